//! Check the netif entry layouts and constants against `/usr/include/xen/io/netif.h`: a tiny C program
//! prints `offsetof`/`sizeof`/constants, and we compare. Fails (does not skip) when gcc or the headers
//! are missing: install `gcc` and `libxen-dev`.

use std::collections::HashMap;

use netfront::wire::{
    self, extra, rx, tx, ExtraInfo, RxRequest, RxResponse, TxRequest, TxResponse,
};
use xenbus::front_ring::{entry_size, ring_size};
use xenbus::RingEntry;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/netif.h>
#define P(name, v) printf("%s %lld\n", name, (long long)(v))
#define O(s, f) printf("%s.%s %lld\n", #s, #f, (long long)offsetof(struct s, f))
int main(void) {
    P("tx_req", sizeof(struct netif_tx_request)); P("tx_req_align", _Alignof(struct netif_tx_request));
    O(netif_tx_request, gref); O(netif_tx_request, offset); O(netif_tx_request, flags);
    O(netif_tx_request, id); O(netif_tx_request, size);
    P("tx_rsp", sizeof(struct netif_tx_response)); P("tx_rsp_align", _Alignof(struct netif_tx_response));
    O(netif_tx_response, id); O(netif_tx_response, status);
    P("rx_req", sizeof(struct netif_rx_request)); P("rx_req_align", _Alignof(struct netif_rx_request));
    O(netif_rx_request, id); O(netif_rx_request, pad); O(netif_rx_request, gref);
    P("rx_rsp", sizeof(struct netif_rx_response)); P("rx_rsp_align", _Alignof(struct netif_rx_response));
    O(netif_rx_response, id); O(netif_rx_response, offset); O(netif_rx_response, flags);
    O(netif_rx_response, status);
    P("extra", sizeof(struct netif_extra_info)); P("extra_align", _Alignof(struct netif_extra_info));
    O(netif_extra_info, type); O(netif_extra_info, flags);
    O(netif_extra_info, u.gso.size); O(netif_extra_info, u.gso.type); O(netif_extra_info, u.gso.pad);
    O(netif_extra_info, u.gso.features);
    P("tx_entry", sizeof(union netif_tx_sring_entry));
    P("rx_entry", sizeof(union netif_rx_sring_entry));
    P("tx_ring_size", __CONST_RING_SIZE(netif_tx, 4096));
    P("rx_ring_size", __CONST_RING_SIZE(netif_rx, 4096));
    P("NETTXF_csum_blank", NETTXF_csum_blank); P("NETTXF_data_validated", NETTXF_data_validated);
    P("NETTXF_more_data", NETTXF_more_data); P("NETTXF_extra_info", NETTXF_extra_info);
    P("NETRXF_data_validated", NETRXF_data_validated); P("NETRXF_csum_blank", NETRXF_csum_blank);
    P("NETRXF_more_data", NETRXF_more_data); P("NETRXF_extra_info", NETRXF_extra_info);
    P("NETRXF_gso_prefix", NETRXF_gso_prefix);
    P("NETIF_RSP_DROPPED", NETIF_RSP_DROPPED); P("NETIF_RSP_ERROR", NETIF_RSP_ERROR);
    P("NETIF_RSP_OKAY", NETIF_RSP_OKAY); P("NETIF_RSP_NULL", NETIF_RSP_NULL);
    P("XEN_NETIF_MAX_TX_SIZE", XEN_NETIF_MAX_TX_SIZE); P("XEN_NETIF_NR_SLOTS_MIN", XEN_NETIF_NR_SLOTS_MIN);
    P("XEN_NETIF_EXTRA_TYPE_GSO", XEN_NETIF_EXTRA_TYPE_GSO);
    P("XEN_NETIF_EXTRA_TYPE_MCAST_ADD", XEN_NETIF_EXTRA_TYPE_MCAST_ADD);
    P("XEN_NETIF_EXTRA_TYPE_MCAST_DEL", XEN_NETIF_EXTRA_TYPE_MCAST_DEL);
    P("XEN_NETIF_EXTRA_TYPE_HASH", XEN_NETIF_EXTRA_TYPE_HASH);
    P("XEN_NETIF_EXTRA_TYPE_MAX", XEN_NETIF_EXTRA_TYPE_MAX);
    P("XEN_NETIF_EXTRA_FLAG_MORE", XEN_NETIF_EXTRA_FLAG_MORE);
    P("XEN_NETIF_GSO_TYPE_TCPV4", XEN_NETIF_GSO_TYPE_TCPV4);
    P("XEN_NETIF_GSO_TYPE_TCPV6", XEN_NETIF_GSO_TYPE_TCPV6);
    return 0;
}
"#;

fn c_values() -> HashMap<String, i64> {
    xen_c_headers::compile_and_run("netfront", PROGRAM)
        .lines()
        .iter()
        .map(|(k, v)| (k.clone(), v.parse().unwrap()))
        .collect()
}

#[test]
fn netif_layouts_and_constants_match_xen_headers() {
    let c = c_values();
    let check = |name: &str, ours: i64| {
        assert_eq!(c[name], ours, "{name}: C says {}, we say {ours}", c[name])
    };
    check("tx_req", TxRequest::SIZE as i64);
    check("tx_req_align", TxRequest::ALIGN as i64);
    check("netif_tx_request.gref", tx::field::GREF as i64);
    check("netif_tx_request.offset", tx::field::OFFSET as i64);
    check("netif_tx_request.flags", tx::field::FLAGS as i64);
    check("netif_tx_request.id", tx::field::ID as i64);
    check("netif_tx_request.size", tx::field::SIZE as i64);
    check("tx_rsp", TxResponse::SIZE as i64);
    check("tx_rsp_align", TxResponse::ALIGN as i64);
    check("netif_tx_response.id", tx::field::RSP_ID as i64);
    check("netif_tx_response.status", tx::field::RSP_STATUS as i64);
    check("rx_req", RxRequest::SIZE as i64);
    check("rx_req_align", RxRequest::ALIGN as i64);
    check("netif_rx_request.id", rx::field::REQ_ID as i64);
    check("netif_rx_request.pad", rx::field::REQ_PAD as i64);
    check("netif_rx_request.gref", rx::field::REQ_GREF as i64);
    check("rx_rsp", RxResponse::SIZE as i64);
    check("rx_rsp_align", RxResponse::ALIGN as i64);
    check("netif_rx_response.id", rx::field::RSP_ID as i64);
    check("netif_rx_response.offset", rx::field::RSP_OFFSET as i64);
    check("netif_rx_response.flags", rx::field::RSP_FLAGS as i64);
    check("netif_rx_response.status", rx::field::RSP_STATUS as i64);
    check("extra", ExtraInfo::SIZE as i64);
    check("extra_align", ExtraInfo::ALIGN as i64);
    check("netif_extra_info.type", extra::field::TYPE as i64);
    check("netif_extra_info.flags", extra::field::FLAGS as i64);
    check("netif_extra_info.u.gso.size", extra::field::GSO_SIZE as i64);
    check("netif_extra_info.u.gso.type", extra::field::GSO_TYPE as i64);
    check("netif_extra_info.u.gso.pad", extra::field::GSO_PAD as i64);
    check(
        "netif_extra_info.u.gso.features",
        extra::field::GSO_FEATURES as i64,
    );
    // The extra-info entry must fit both a tx request slot and an rx response slot.
    const { assert!(ExtraInfo::SIZE <= TxRequest::SIZE && ExtraInfo::SIZE <= RxResponse::SIZE) };
    let tx_entry = entry_size(
        TxRequest::SIZE,
        TxRequest::ALIGN,
        TxResponse::SIZE,
        TxResponse::ALIGN,
    );
    let rx_entry = entry_size(
        RxRequest::SIZE,
        RxRequest::ALIGN,
        RxResponse::SIZE,
        RxResponse::ALIGN,
    );
    check("tx_entry", tx_entry as i64);
    check("rx_entry", rx_entry as i64);
    check("tx_ring_size", ring_size(4096, tx_entry) as i64);
    check("rx_ring_size", ring_size(4096, rx_entry) as i64);
    check("tx_ring_size", netfront::TX_RING_SIZE as i64);
    check("rx_ring_size", netfront::RX_RING_SIZE as i64);
    for (name, v) in [
        ("NETTXF_csum_blank", wire::NETTXF_CSUM_BLANK),
        ("NETTXF_data_validated", wire::NETTXF_DATA_VALIDATED),
        ("NETTXF_more_data", wire::NETTXF_MORE_DATA),
        ("NETTXF_extra_info", wire::NETTXF_EXTRA_INFO),
        ("NETRXF_data_validated", wire::NETRXF_DATA_VALIDATED),
        ("NETRXF_csum_blank", wire::NETRXF_CSUM_BLANK),
        ("NETRXF_more_data", wire::NETRXF_MORE_DATA),
        ("NETRXF_extra_info", wire::NETRXF_EXTRA_INFO),
        ("NETRXF_gso_prefix", wire::NETRXF_GSO_PREFIX),
    ] {
        check(name, v as i64);
    }
    for (name, v) in [
        ("NETIF_RSP_DROPPED", wire::NETIF_RSP_DROPPED),
        ("NETIF_RSP_ERROR", wire::NETIF_RSP_ERROR),
        ("NETIF_RSP_OKAY", wire::NETIF_RSP_OKAY),
        ("NETIF_RSP_NULL", wire::NETIF_RSP_NULL),
    ] {
        check(name, v as i64);
    }
    check("XEN_NETIF_MAX_TX_SIZE", wire::XEN_NETIF_MAX_TX_SIZE as i64);
    check(
        "XEN_NETIF_NR_SLOTS_MIN",
        wire::XEN_NETIF_NR_SLOTS_MIN as i64,
    );
    for (name, v) in [
        ("XEN_NETIF_EXTRA_TYPE_GSO", wire::XEN_NETIF_EXTRA_TYPE_GSO),
        (
            "XEN_NETIF_EXTRA_TYPE_MCAST_ADD",
            wire::XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
        ),
        (
            "XEN_NETIF_EXTRA_TYPE_MCAST_DEL",
            wire::XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
        ),
        ("XEN_NETIF_EXTRA_TYPE_HASH", wire::XEN_NETIF_EXTRA_TYPE_HASH),
        ("XEN_NETIF_EXTRA_TYPE_MAX", wire::XEN_NETIF_EXTRA_TYPE_MAX),
        ("XEN_NETIF_EXTRA_FLAG_MORE", wire::XEN_NETIF_EXTRA_FLAG_MORE),
        ("XEN_NETIF_GSO_TYPE_TCPV4", wire::GsoType::TcpV4.to_u8()),
        ("XEN_NETIF_GSO_TYPE_TCPV6", wire::GsoType::TcpV6.to_u8()),
    ] {
        check(name, v as i64);
    }
}
