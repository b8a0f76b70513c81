//! Check the blkif layouts and constants against `/usr/include/xen/io/blkif.h` (`libxen-dev`): a small C
//! program prints `offsetof`/`sizeof`/constants, and we compare; then we emit requests and compare the
//! bytes with what the C compiler lays out for the same values. Fails (does not skip) when gcc or the
//! headers are missing.

use std::collections::HashMap;

use blkfront::wire::{
    self, field, RequestPacket, RequestRepr, ResponsePacket, ResponseRepr, Segment,
};
use xen_traits::GrantRef;
use xenbus::front_ring::{entry_size, ring_size};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#define P(name, v) printf("%s %lld\n", name, (long long)(v))
static void hex(const char *name, const void *p, size_t n) {
    printf("%s ", name);
    for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *)p)[i]);
    printf("\n");
}
int main(void) {
    P("req_size", sizeof(struct blkif_request)); P("req_align", _Alignof(struct blkif_request));
    P("req_operation", offsetof(struct blkif_request, operation));
    P("req_nr_segments", offsetof(struct blkif_request, nr_segments));
    P("req_handle", offsetof(struct blkif_request, handle));
    P("req_id", offsetof(struct blkif_request, id));
    P("req_sector_number", offsetof(struct blkif_request, sector_number));
    P("req_seg", offsetof(struct blkif_request, seg));
    P("seg_size", sizeof(struct blkif_request_segment));
    P("seg_gref", offsetof(struct blkif_request_segment, gref));
    P("seg_first", offsetof(struct blkif_request_segment, first_sect));
    P("seg_last", offsetof(struct blkif_request_segment, last_sect));
    P("disc_size", sizeof(struct blkif_request_discard));
    P("disc_flag", offsetof(struct blkif_request_discard, flag));
    P("disc_handle", offsetof(struct blkif_request_discard, handle));
    P("disc_id", offsetof(struct blkif_request_discard, id));
    P("disc_sector_number", offsetof(struct blkif_request_discard, sector_number));
    P("disc_nr_sectors", offsetof(struct blkif_request_discard, nr_sectors));
    P("ind_size", sizeof(struct blkif_request_indirect));
    P("ind_indirect_op", offsetof(struct blkif_request_indirect, indirect_op));
    P("ind_nr_segments", offsetof(struct blkif_request_indirect, nr_segments));
    P("ind_id", offsetof(struct blkif_request_indirect, id));
    P("ind_sector_number", offsetof(struct blkif_request_indirect, sector_number));
    P("ind_handle", offsetof(struct blkif_request_indirect, handle));
    P("ind_grefs", offsetof(struct blkif_request_indirect, indirect_grefs));
    P("rsp_size", sizeof(struct blkif_response)); P("rsp_align", _Alignof(struct blkif_response));
    P("rsp_id", offsetof(struct blkif_response, id));
    P("rsp_operation", offsetof(struct blkif_response, operation));
    P("rsp_status", offsetof(struct blkif_response, status));
    P("BLKIF_OP_READ", BLKIF_OP_READ); P("BLKIF_OP_WRITE", BLKIF_OP_WRITE);
    P("BLKIF_OP_WRITE_BARRIER", BLKIF_OP_WRITE_BARRIER);
    P("BLKIF_OP_FLUSH_DISKCACHE", BLKIF_OP_FLUSH_DISKCACHE);
    P("BLKIF_OP_RESERVED_1", BLKIF_OP_RESERVED_1); P("BLKIF_OP_DISCARD", BLKIF_OP_DISCARD);
    P("BLKIF_OP_INDIRECT", BLKIF_OP_INDIRECT);
    P("BLKIF_RSP_OKAY", BLKIF_RSP_OKAY); P("BLKIF_RSP_ERROR", BLKIF_RSP_ERROR);
    P("BLKIF_RSP_EOPNOTSUPP", BLKIF_RSP_EOPNOTSUPP);
    P("BLKIF_MAX_SEGMENTS_PER_REQUEST", BLKIF_MAX_SEGMENTS_PER_REQUEST);
    P("BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST", BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
    P("BLKIF_DISCARD_SECURE", BLKIF_DISCARD_SECURE);
    P("VDISK_CDROM", VDISK_CDROM); P("VDISK_REMOVABLE", VDISK_REMOVABLE);
    P("VDISK_READONLY", VDISK_READONLY);
    P("ring_1", __CONST_RING_SIZE(blkif, 4096));
    P("ring_2", __CONST_RING_SIZE(blkif, 2 * 4096));
    P("ring_4", __CONST_RING_SIZE(blkif, 4 * 4096));
    P("ring_16", __CONST_RING_SIZE(blkif, 16 * 4096));
    printf("proto %s\n", XEN_IO_PROTO_ABI_X86_64);

    struct blkif_request r; memset(&r, 0, sizeof r);
    r.operation = BLKIF_OP_WRITE; r.nr_segments = 2; r.handle = 0xbeef; r.id = 0x0102030405060708ULL;
    r.sector_number = 0x1122334455667788ULL;
    r.seg[0].gref = 0x11223344; r.seg[0].first_sect = 1; r.seg[0].last_sect = 7;
    r.seg[1].gref = 9; r.seg[1].first_sect = 0; r.seg[1].last_sect = 0;
    hex("bytes_rw", &r, sizeof r);
    struct blkif_request_indirect ind; memset(&ind, 0, sizeof ind);
    ind.operation = BLKIF_OP_INDIRECT; ind.indirect_op = BLKIF_OP_READ; ind.nr_segments = 600;
    ind.id = 3; ind.sector_number = 4096; ind.handle = 7; ind.indirect_grefs[0] = 5; ind.indirect_grefs[1] = 6;
    hex("bytes_ind", &ind, sizeof ind);
    struct blkif_request_discard d; memset(&d, 0, sizeof d);
    d.operation = BLKIF_OP_DISCARD; d.flag = BLKIF_DISCARD_SECURE; d.handle = 2; d.id = 9;
    d.sector_number = 10; d.nr_sectors = 11;
    hex("bytes_disc", &d, sizeof d);
    struct blkif_response rsp; memset(&rsp, 0, sizeof rsp);
    rsp.id = 0xfffffffffffffffeULL; rsp.operation = BLKIF_OP_FLUSH_DISKCACHE; rsp.status = BLKIF_RSP_EOPNOTSUPP;
    hex("bytes_rsp", &rsp, sizeof rsp);
    return 0;
}
"#;

fn c_values() -> (HashMap<String, i64>, HashMap<String, String>) {
    let mut nums = HashMap::new();
    let mut strs = HashMap::new();
    for (k, v) in xen_c_headers::compile_and_run("blkfront", PROGRAM).lines() {
        match v.parse() {
            Ok(n) if !k.starts_with("bytes") => {
                nums.insert(k.clone(), n);
            }
            _ => {
                strs.insert(k.clone(), v.clone());
            }
        }
    }
    (nums, strs)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn blkif_layout_matches_xen_headers() {
    let (c, s) = c_values();
    let check = |name: &str, ours: i64| {
        assert_eq!(c[name], ours, "{name}: C says {}, we say {ours}", c[name])
    };
    check("req_size", field::REQUEST_LEN as i64);
    check("req_align", 8);
    check("req_operation", field::OPERATION as i64);
    check("req_nr_segments", field::BYTE1 as i64);
    check("req_handle", field::HALF2.start as i64);
    check("req_id", field::ID.start as i64);
    check("req_sector_number", field::SECTOR.start as i64);
    check("req_seg", field::SEGS as i64);
    check("seg_size", wire::SEGMENT_LEN as i64);
    check("seg_gref", field::SEG_GREF.start as i64);
    check("seg_first", field::SEG_FIRST as i64);
    check("seg_last", field::SEG_LAST as i64);
    check("disc_size", field::DISCARD_LEN as i64);
    check("disc_flag", field::BYTE1 as i64);
    check("disc_handle", field::HALF2.start as i64);
    check("disc_id", field::ID.start as i64);
    check("disc_sector_number", field::SECTOR.start as i64);
    check("disc_nr_sectors", field::DISCARD_NR_SECTORS.start as i64);
    check("ind_size", field::INDIRECT_LEN as i64);
    check("ind_indirect_op", field::BYTE1 as i64);
    check("ind_nr_segments", field::HALF2.start as i64);
    check("ind_id", field::ID.start as i64);
    check("ind_sector_number", field::SECTOR.start as i64);
    check("ind_handle", field::INDIRECT_HANDLE.start as i64);
    check("ind_grefs", field::INDIRECT_GREFS as i64);
    check("rsp_size", field::RESPONSE_LEN as i64);
    check("rsp_align", 8);
    check("rsp_id", field::RSP_ID.start as i64);
    check("rsp_operation", field::RSP_OPERATION as i64);
    check("rsp_status", field::RSP_STATUS.start as i64);
    check("BLKIF_OP_READ", wire::BLKIF_OP_READ.into());
    check("BLKIF_OP_WRITE", wire::BLKIF_OP_WRITE.into());
    check(
        "BLKIF_OP_WRITE_BARRIER",
        wire::BLKIF_OP_WRITE_BARRIER.into(),
    );
    check(
        "BLKIF_OP_FLUSH_DISKCACHE",
        wire::BLKIF_OP_FLUSH_DISKCACHE.into(),
    );
    check("BLKIF_OP_RESERVED_1", wire::BLKIF_OP_RESERVED_1.into());
    check("BLKIF_OP_DISCARD", wire::BLKIF_OP_DISCARD.into());
    check("BLKIF_OP_INDIRECT", wire::BLKIF_OP_INDIRECT.into());
    check("BLKIF_RSP_OKAY", wire::BLKIF_RSP_OKAY.into());
    check("BLKIF_RSP_ERROR", wire::BLKIF_RSP_ERROR.into());
    check("BLKIF_RSP_EOPNOTSUPP", wire::BLKIF_RSP_EOPNOTSUPP.into());
    check(
        "BLKIF_MAX_SEGMENTS_PER_REQUEST",
        wire::MAX_SEGMENTS_PER_REQUEST as i64,
    );
    check(
        "BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST",
        wire::MAX_INDIRECT_PAGES_PER_REQUEST as i64,
    );
    check("BLKIF_DISCARD_SECURE", wire::BLKIF_DISCARD_SECURE.into());
    check("VDISK_CDROM", wire::VDISK_CDROM.into());
    check("VDISK_REMOVABLE", wire::VDISK_REMOVABLE.into());
    check("VDISK_READONLY", wire::VDISK_READONLY.into());
    let slot = entry_size(field::REQUEST_LEN, 8, field::RESPONSE_LEN, 8);
    for n in [1usize, 2, 4, 16] {
        check(&format!("ring_{n}"), ring_size(n * 4096, slot) as i64);
    }
    assert_eq!(s["proto"], wire::PROTOCOL_X86_64);

    // The bytes we emit are the bytes C lays out for the same values (padding included).
    let mut seg = [Segment::default(); wire::MAX_SEGMENTS_PER_REQUEST];
    seg[0] = Segment {
        gref: GrantRef(0x11223344),
        first_sect: 1,
        last_sect: 7,
    };
    seg[1] = Segment {
        gref: GrantRef(9),
        first_sect: 0,
        last_sect: 0,
    };
    let emit = |r: RequestRepr, len: usize| {
        let mut b = [0u8; field::REQUEST_LEN];
        RequestPacket::new_checked(&mut b[..]).unwrap().emit(&r);
        hex(&b[..len])
    };
    let rw = RequestRepr::Direct {
        operation: wire::BLKIF_OP_WRITE,
        handle: 0xbeef,
        id: 0x0102030405060708,
        sector_number: 0x1122334455667788,
        nr_segments: 2,
        seg,
    };
    assert_eq!(emit(rw, field::REQUEST_LEN), s["bytes_rw"]);
    let mut g = [GrantRef(0); wire::MAX_INDIRECT_PAGES_PER_REQUEST];
    g[0] = GrantRef(5);
    g[1] = GrantRef(6);
    let ind = RequestRepr::Indirect {
        indirect_op: wire::BLKIF_OP_READ,
        nr_segments: 600,
        id: 3,
        sector_number: 4096,
        handle: 7,
        indirect_grefs: g,
    };
    assert_eq!(emit(ind, field::INDIRECT_LEN), s["bytes_ind"]);
    let d = RequestRepr::Discard {
        flag: 1,
        handle: 2,
        id: 9,
        sector_number: 10,
        nr_sectors: 11,
    };
    assert_eq!(emit(d, field::DISCARD_LEN), s["bytes_disc"]);
    let mut b = vec![0u8; field::RESPONSE_LEN];
    ResponsePacket::new_checked(&mut b[..])
        .unwrap()
        .emit(&ResponseRepr {
            id: 0xfffffffffffffffe,
            operation: wire::BLKIF_OP_FLUSH_DISKCACHE,
            status: wire::BLKIF_RSP_EOPNOTSUPP,
        });
    assert_eq!(hex(&b), s["bytes_rsp"]);
}
