//! Check our layouts and constants against the Xen public headers (`libxen-dev`): a tiny C program
//! prints `offsetof`/`sizeof`/constants, and we compare. Fails (does not skip) when gcc or the headers
//! are missing: install `gcc` and `libxen-dev`.

use std::collections::HashMap;

use xenbus::front_ring::{entry_size, layout as ring, ring_size};
use xenbus::wire::{XENSTORE_ABS_PATH_MAX, XENSTORE_PAYLOAD_MAX, XENSTORE_REL_PATH_MAX};
use xenbus::xs_ring::{layout as xs, XENSTORE_RING_SIZE};
use xenbus::{MsgType, XenbusState, XsErrno};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>
#include <xen/io/ring.h>
#include <xen/io/xenbus.h>
#include <xen/io/netif.h>
#include <xen/io/blkif.h>
#define P(name, v) printf("%s %lld\n", name, (long long)(v))
int main(void) {
    P("req", offsetof(struct xenstore_domain_interface, req));
    P("rsp", offsetof(struct xenstore_domain_interface, rsp));
    P("req_cons", offsetof(struct xenstore_domain_interface, req_cons));
    P("req_prod", offsetof(struct xenstore_domain_interface, req_prod));
    P("rsp_cons", offsetof(struct xenstore_domain_interface, rsp_cons));
    P("rsp_prod", offsetof(struct xenstore_domain_interface, rsp_prod));
    P("server_features", offsetof(struct xenstore_domain_interface, server_features));
    P("connection", offsetof(struct xenstore_domain_interface, connection));
    P("error", offsetof(struct xenstore_domain_interface, error));
    P("sizeof_intf", sizeof(struct xenstore_domain_interface));
    P("ring_size", XENSTORE_RING_SIZE);
    P("payload_max", XENSTORE_PAYLOAD_MAX);
    P("abs_path_max", XENSTORE_ABS_PATH_MAX);
    P("rel_path_max", XENSTORE_REL_PATH_MAX);
    P("sizeof_sockmsg", sizeof(struct xsd_sockmsg));
    P("XS_DIRECTORY", XS_DIRECTORY); P("XS_READ", XS_READ); P("XS_GET_PERMS", XS_GET_PERMS);
    P("XS_WATCH", XS_WATCH); P("XS_UNWATCH", XS_UNWATCH);
    P("XS_TRANSACTION_START", XS_TRANSACTION_START); P("XS_TRANSACTION_END", XS_TRANSACTION_END);
    P("XS_GET_DOMAIN_PATH", XS_GET_DOMAIN_PATH); P("XS_WRITE", XS_WRITE); P("XS_MKDIR", XS_MKDIR);
    P("XS_RM", XS_RM); P("XS_SET_PERMS", XS_SET_PERMS); P("XS_WATCH_EVENT", XS_WATCH_EVENT);
    P("XS_ERROR", XS_ERROR); P("XS_RESET_WATCHES", XS_RESET_WATCHES);
    P("XS_DIRECTORY_PART", XS_DIRECTORY_PART); P("XS_TYPE_COUNT", XS_TYPE_COUNT);
    P("XS_INVALID", XS_INVALID);
    for (unsigned i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        printf("errno%u %s\n", i, xsd_errors[i].errstring);
    P("XenbusStateUnknown", XenbusStateUnknown); P("XenbusStateInitialising", XenbusStateInitialising);
    P("XenbusStateInitWait", XenbusStateInitWait); P("XenbusStateInitialised", XenbusStateInitialised);
    P("XenbusStateConnected", XenbusStateConnected); P("XenbusStateClosing", XenbusStateClosing);
    P("XenbusStateClosed", XenbusStateClosed); P("XenbusStateReconfiguring", XenbusStateReconfiguring);
    P("XenbusStateReconfigured", XenbusStateReconfigured);
    P("sring_req_prod", offsetof(struct netif_tx_sring, req_prod));
    P("sring_req_event", offsetof(struct netif_tx_sring, req_event));
    P("sring_rsp_prod", offsetof(struct netif_tx_sring, rsp_prod));
    P("sring_rsp_event", offsetof(struct netif_tx_sring, rsp_event));
    P("sring_pvt", offsetof(struct netif_tx_sring, pvt));
    P("sring_pad", offsetof(struct netif_tx_sring, __pad));
    P("sring_ring", offsetof(struct netif_tx_sring, ring));
    P("blkif_sring_ring", offsetof(struct blkif_sring, ring));
    P("tx_req", sizeof(struct netif_tx_request)); P("tx_req_align", _Alignof(struct netif_tx_request));
    P("tx_rsp", sizeof(struct netif_tx_response)); P("tx_rsp_align", _Alignof(struct netif_tx_response));
    P("tx_entry", sizeof(union netif_tx_sring_entry));
    P("tx_ring_size", __CONST_RING_SIZE(netif_tx, 4096));
    P("rx_req", sizeof(struct netif_rx_request)); P("rx_req_align", _Alignof(struct netif_rx_request));
    P("rx_rsp", sizeof(struct netif_rx_response)); P("rx_rsp_align", _Alignof(struct netif_rx_response));
    P("rx_entry", sizeof(union netif_rx_sring_entry));
    P("rx_ring_size", __CONST_RING_SIZE(netif_rx, 4096));
    P("blk_req", sizeof(struct blkif_request)); P("blk_req_align", _Alignof(struct blkif_request));
    P("blk_rsp", sizeof(struct blkif_response)); P("blk_rsp_align", _Alignof(struct blkif_response));
    P("blk_entry", sizeof(union blkif_sring_entry));
    P("blk_ring_size", __CONST_RING_SIZE(blkif, 4096));
    P("blk_ring_size_4p", __CONST_RING_SIZE(blkif, 4 * 4096));
    return 0;
}
"#;

fn c_values() -> (HashMap<String, i64>, Vec<String>) {
    let mut nums = HashMap::new();
    let mut errnos = Vec::new();
    for (k, v) in xen_c_headers::compile_and_run("xenbus", PROGRAM).lines() {
        if k.starts_with("errno") {
            errnos.push(v.clone());
        } else {
            nums.insert(k.clone(), v.parse().unwrap());
        }
    }
    (nums, errnos)
}

#[test]
fn layouts_and_constants_match_xen_headers() {
    let (c, errnos) = c_values();
    let check = |name: &str, ours: i64| {
        assert_eq!(c[name], ours, "{name}: C says {}, we say {ours}", c[name])
    };
    check("req", xs::REQ as i64);
    check("rsp", xs::RSP as i64);
    check("req_cons", xs::REQ_CONS as i64);
    check("req_prod", xs::REQ_PROD as i64);
    check("rsp_cons", xs::RSP_CONS as i64);
    check("rsp_prod", xs::RSP_PROD as i64);
    check("server_features", xs::SERVER_FEATURES as i64);
    check("connection", xs::CONNECTION as i64);
    check("error", xs::ERROR as i64);
    check("sizeof_intf", xs::SIZE as i64);
    check("ring_size", XENSTORE_RING_SIZE as i64);
    check("payload_max", XENSTORE_PAYLOAD_MAX as i64);
    check("abs_path_max", XENSTORE_ABS_PATH_MAX as i64);
    check("rel_path_max", XENSTORE_REL_PATH_MAX as i64);
    check("sizeof_sockmsg", xenbus::wire::HEADER_LEN as i64);
    for (name, t) in [
        ("XS_DIRECTORY", MsgType::Directory),
        ("XS_READ", MsgType::Read),
        ("XS_GET_PERMS", MsgType::GetPerms),
        ("XS_WATCH", MsgType::Watch),
        ("XS_UNWATCH", MsgType::Unwatch),
        ("XS_TRANSACTION_START", MsgType::TransactionStart),
        ("XS_TRANSACTION_END", MsgType::TransactionEnd),
        ("XS_GET_DOMAIN_PATH", MsgType::GetDomainPath),
        ("XS_WRITE", MsgType::Write),
        ("XS_MKDIR", MsgType::Mkdir),
        ("XS_RM", MsgType::Rm),
        ("XS_SET_PERMS", MsgType::SetPerms),
        ("XS_WATCH_EVENT", MsgType::WatchEvent),
        ("XS_ERROR", MsgType::Error),
        ("XS_RESET_WATCHES", MsgType::ResetWatches),
        ("XS_DIRECTORY_PART", MsgType::DirectoryPart),
    ] {
        check(name, t as i64);
    }
    check("XS_TYPE_COUNT", MsgType::TYPE_COUNT as i64);
    check("XS_INVALID", MsgType::INVALID as i64);
    let ours: Vec<String> = XsErrno::all().map(|e| e.as_str().to_string()).collect();
    assert_eq!(errnos, ours, "xsd_errors[] differs");
    for (name, s) in [
        ("XenbusStateUnknown", XenbusState::Unknown),
        ("XenbusStateInitialising", XenbusState::Initialising),
        ("XenbusStateInitWait", XenbusState::InitWait),
        ("XenbusStateInitialised", XenbusState::Initialised),
        ("XenbusStateConnected", XenbusState::Connected),
        ("XenbusStateClosing", XenbusState::Closing),
        ("XenbusStateClosed", XenbusState::Closed),
        ("XenbusStateReconfiguring", XenbusState::Reconfiguring),
        ("XenbusStateReconfigured", XenbusState::Reconfigured),
    ] {
        check(name, s as i64);
    }
    check("sring_req_prod", ring::REQ_PROD as i64);
    check("sring_req_event", ring::REQ_EVENT as i64);
    check("sring_rsp_prod", ring::RSP_PROD as i64);
    check("sring_rsp_event", ring::RSP_EVENT as i64);
    check("sring_pvt", ring::PVT as i64);
    check("sring_pad", ring::PAD as i64);
    check("sring_ring", ring::RING as i64);
    check("blkif_sring_ring", ring::RING as i64);
    for p in ["tx", "rx", "blk"] {
        let e = entry_size(
            c[&format!("{p}_req")] as usize,
            c[&format!("{p}_req_align")] as usize,
            c[&format!("{p}_rsp")] as usize,
            c[&format!("{p}_rsp_align")] as usize,
        );
        check(&format!("{p}_entry"), e as i64);
        check(&format!("{p}_ring_size"), ring_size(4096, e) as i64);
    }
    let blk = entry_size(
        c["blk_req"] as usize,
        c["blk_req_align"] as usize,
        c["blk_rsp"] as usize,
        c["blk_rsp_align"] as usize,
    );
    check("blk_ring_size_4p", ring_size(4 * 4096, blk) as i64);
}
