//! Cross-checks every ABI size, offset and constant Xenolith relies on against Xen's C headers
//! (Debian `libxen-dev`, `/usr/include/xen`). A C program prints `name value` lines; each one is
//! compared with the Rust definition. Missing gcc or headers is a failure, not a skip.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};

use hypervisor::abi::{console, cpuid, evtchn, grant, hvm, hypercalls, memory, shared, start_info, vcpu, version};
use hypervisor::xen_sys;

// Modern interface version: with the default (0) the headers map sched_op/event_channel_op to their
// pre-3.0 "compat" numbers.
const C_PROGRAM: &str = r#"
#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/event_channel.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/io/console.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/arch-x86/cpuid.h>
#include <xen/elfnote.h>
#include <xen/memory.h>
#include <xen/grant_table.h>
#include <xen/vcpu.h>
#define P(name, v) printf("%s %llu\n", name, (unsigned long long)(v))
#define S(t) P("sizeof " #t, sizeof(struct t))
#define O(t, f) P("offsetof " #t "." #f, offsetof(struct t, f))
#define C(c) P(#c, c)
int main(void) {
    S(hvm_start_info); O(hvm_start_info, magic); O(hvm_start_info, version); O(hvm_start_info, flags);
    O(hvm_start_info, nr_modules); O(hvm_start_info, modlist_paddr); O(hvm_start_info, cmdline_paddr);
    O(hvm_start_info, rsdp_paddr); O(hvm_start_info, memmap_paddr); O(hvm_start_info, memmap_entries);
    O(hvm_start_info, reserved);
    S(hvm_modlist_entry); O(hvm_modlist_entry, paddr); O(hvm_modlist_entry, size);
    O(hvm_modlist_entry, cmdline_paddr);
    S(hvm_memmap_table_entry); O(hvm_memmap_table_entry, addr); O(hvm_memmap_table_entry, size);
    O(hvm_memmap_table_entry, type);
    C(XEN_HVM_START_MAGIC_VALUE); C(XEN_HVM_MEMMAP_TYPE_RAM); C(XEN_HVM_MEMMAP_TYPE_RESERVED);
    C(XEN_HVM_MEMMAP_TYPE_ACPI); C(XEN_HVM_MEMMAP_TYPE_NVS); C(XEN_HVM_MEMMAP_TYPE_UNUSABLE);
    C(XEN_HVM_MEMMAP_TYPE_DISABLED); C(XEN_HVM_MEMMAP_TYPE_PMEM);
    S(xen_hvm_param); O(xen_hvm_param, domid); O(xen_hvm_param, index); O(xen_hvm_param, value);
    C(HVMOP_set_param); C(HVMOP_get_param); C(HVM_PARAM_STORE_PFN); C(HVM_PARAM_STORE_EVTCHN);
    C(HVM_PARAM_CONSOLE_PFN); C(HVM_PARAM_CONSOLE_EVTCHN); C(DOMID_SELF);
    S(xencons_interface); O(xencons_interface, in); O(xencons_interface, out);
    O(xencons_interface, in_cons); O(xencons_interface, in_prod);
    O(xencons_interface, out_cons); O(xencons_interface, out_prod);
    C(XENVER_version); C(XENVER_extraversion); C(XEN_EXTRAVERSION_LEN);
    C(XEN_CPUID_FIRST_LEAF);
    C(__HYPERVISOR_sched_op); C(__HYPERVISOR_event_channel_op); C(__HYPERVISOR_hvm_op);
    C(__HYPERVISOR_xen_version);
    C(SCHEDOP_yield); C(SCHEDOP_shutdown); C(SCHEDOP_poll);
    C(SHUTDOWN_poweroff); C(SHUTDOWN_reboot); C(SHUTDOWN_crash);
    C(EVTCHNOP_send); S(evtchn_send); S(sched_shutdown);
    C(XEN_ELFNOTE_PHYS32_ENTRY); C(XEN_ELFNOTE_GUEST_OS); C(XEN_ELFNOTE_XEN_VERSION);
    C(XEN_ELFNOTE_LOADER);
    S(shared_info); O(shared_info, vcpu_info); O(shared_info, evtchn_pending); O(shared_info, evtchn_mask);
    O(shared_info, wc_version); O(shared_info, wc_sec); O(shared_info, wc_nsec); O(shared_info, wc_sec_hi);
    S(vcpu_info); O(vcpu_info, evtchn_upcall_pending); O(vcpu_info, evtchn_upcall_mask);
    O(vcpu_info, evtchn_pending_sel); O(vcpu_info, time);
    S(vcpu_time_info); O(vcpu_time_info, version); O(vcpu_time_info, tsc_timestamp);
    O(vcpu_time_info, system_time); O(vcpu_time_info, tsc_to_system_mul); O(vcpu_time_info, tsc_shift);
    O(vcpu_time_info, flags); C(XEN_LEGACY_MAX_VCPUS);
    S(xen_add_to_physmap); O(xen_add_to_physmap, domid); O(xen_add_to_physmap, size);
    O(xen_add_to_physmap, space); O(xen_add_to_physmap, idx); O(xen_add_to_physmap, gpfn);
    C(XENMEM_add_to_physmap); C(XENMAPSPACE_shared_info); C(XENMAPSPACE_grant_table);
    S(gnttab_query_size); O(gnttab_query_size, dom); O(gnttab_query_size, nr_frames);
    O(gnttab_query_size, max_nr_frames); O(gnttab_query_size, status);
    S(grant_entry_v1); O(grant_entry_v1, flags); O(grant_entry_v1, domid); O(grant_entry_v1, frame);
    C(GNTTABOP_setup_table); C(GNTTABOP_query_size); C(GTF_permit_access); C(GTF_readonly);
    C(GTF_reading); C(GTF_writing); C(GNTTAB_NR_RESERVED_ENTRIES);
    S(evtchn_alloc_unbound); O(evtchn_alloc_unbound, dom); O(evtchn_alloc_unbound, remote_dom);
    O(evtchn_alloc_unbound, port);
    S(evtchn_bind_interdomain); O(evtchn_bind_interdomain, remote_dom);
    O(evtchn_bind_interdomain, remote_port); O(evtchn_bind_interdomain, local_port);
    S(evtchn_bind_virq); O(evtchn_bind_virq, virq); O(evtchn_bind_virq, vcpu); O(evtchn_bind_virq, port);
    S(evtchn_close); S(evtchn_unmask);
    C(EVTCHNOP_alloc_unbound); C(EVTCHNOP_bind_interdomain); C(EVTCHNOP_bind_virq); C(EVTCHNOP_close);
    C(EVTCHNOP_unmask); C(VIRQ_TIMER);
    S(vcpu_set_singleshot_timer); O(vcpu_set_singleshot_timer, timeout_abs_ns);
    O(vcpu_set_singleshot_timer, flags);
    C(VCPUOP_set_singleshot_timer); C(VCPUOP_stop_singleshot_timer); C(VCPU_SSHOTTMR_future);
    C(VCPUOP_stop_periodic_timer);
    C(HVM_PARAM_CALLBACK_IRQ); C(HVM_PARAM_CALLBACK_TYPE_VECTOR);
    C(__HYPERVISOR_memory_op); C(__HYPERVISOR_grant_table_op); C(__HYPERVISOR_vcpu_op);
    return 0;
}
"#;

fn c_values() -> BTreeMap<String, u64> {
    xen_c_headers::compile_and_run("hypervisor", C_PROGRAM)
        .lines()
        .iter()
        .map(|(k, v)| (k.clone(), v.parse().unwrap()))
        .collect()
}

#[test]
fn rust_abi_matches_c_headers() {
    use start_info::*;
    let c = c_values();
    let rust: Vec<(&str, u64)> = vec![
        ("sizeof hvm_start_info", size_of::<hvm_start_info>() as u64),
        ("offsetof hvm_start_info.magic", field::MAGIC.start as u64),
        ("offsetof hvm_start_info.version", field::VERSION.start as u64),
        ("offsetof hvm_start_info.flags", field::FLAGS.start as u64),
        ("offsetof hvm_start_info.nr_modules", field::NR_MODULES.start as u64),
        ("offsetof hvm_start_info.modlist_paddr", field::MODLIST_PADDR.start as u64),
        ("offsetof hvm_start_info.cmdline_paddr", field::CMDLINE_PADDR.start as u64),
        ("offsetof hvm_start_info.rsdp_paddr", field::RSDP_PADDR.start as u64),
        ("offsetof hvm_start_info.memmap_paddr", field::MEMMAP_PADDR.start as u64),
        ("offsetof hvm_start_info.memmap_entries", field::MEMMAP_ENTRIES.start as u64),
        ("offsetof hvm_start_info.reserved", field::RESERVED.start as u64),
        ("sizeof hvm_modlist_entry", modlist_field::LEN as u64),
        ("offsetof hvm_modlist_entry.paddr", modlist_field::PADDR.start as u64),
        ("offsetof hvm_modlist_entry.size", modlist_field::SIZE.start as u64),
        ("offsetof hvm_modlist_entry.cmdline_paddr", modlist_field::CMDLINE_PADDR.start as u64),
        ("sizeof hvm_memmap_table_entry", memmap_field::LEN as u64),
        ("offsetof hvm_memmap_table_entry.addr", memmap_field::ADDR.start as u64),
        ("offsetof hvm_memmap_table_entry.size", memmap_field::SIZE.start as u64),
        ("offsetof hvm_memmap_table_entry.type", memmap_field::TYPE.start as u64),
        ("XEN_HVM_START_MAGIC_VALUE", XEN_HVM_START_MAGIC_VALUE as u64),
        ("XEN_HVM_MEMMAP_TYPE_RAM", XEN_HVM_MEMMAP_TYPE_RAM as u64),
        ("XEN_HVM_MEMMAP_TYPE_RESERVED", XEN_HVM_MEMMAP_TYPE_RESERVED as u64),
        ("XEN_HVM_MEMMAP_TYPE_ACPI", XEN_HVM_MEMMAP_TYPE_ACPI as u64),
        ("XEN_HVM_MEMMAP_TYPE_NVS", XEN_HVM_MEMMAP_TYPE_NVS as u64),
        ("XEN_HVM_MEMMAP_TYPE_UNUSABLE", XEN_HVM_MEMMAP_TYPE_UNUSABLE as u64),
        ("XEN_HVM_MEMMAP_TYPE_DISABLED", XEN_HVM_MEMMAP_TYPE_DISABLED as u64),
        ("XEN_HVM_MEMMAP_TYPE_PMEM", XEN_HVM_MEMMAP_TYPE_PMEM as u64),
        ("sizeof xen_hvm_param", size_of::<hvm::xen_hvm_param>() as u64),
        ("offsetof xen_hvm_param.domid", offset_of!(hvm::xen_hvm_param, domid) as u64),
        ("offsetof xen_hvm_param.index", offset_of!(hvm::xen_hvm_param, index) as u64),
        ("offsetof xen_hvm_param.value", offset_of!(hvm::xen_hvm_param, value) as u64),
        ("HVMOP_set_param", hvm::HVMOP_set_param as u64),
        ("HVMOP_get_param", hvm::HVMOP_get_param as u64),
        ("HVM_PARAM_STORE_PFN", hvm::HVM_PARAM_STORE_PFN as u64),
        ("HVM_PARAM_STORE_EVTCHN", hvm::HVM_PARAM_STORE_EVTCHN as u64),
        ("HVM_PARAM_CONSOLE_PFN", hvm::HVM_PARAM_CONSOLE_PFN as u64),
        ("HVM_PARAM_CONSOLE_EVTCHN", hvm::HVM_PARAM_CONSOLE_EVTCHN as u64),
        ("DOMID_SELF", hvm::DOMID_SELF as u64),
        ("sizeof xencons_interface", size_of::<console::xencons_interface>() as u64),
        ("offsetof xencons_interface.in", console::OFFSET_IN as u64),
        ("offsetof xencons_interface.out", console::OFFSET_OUT as u64),
        ("offsetof xencons_interface.in_cons", console::OFFSET_IN_CONS as u64),
        ("offsetof xencons_interface.in_prod", console::OFFSET_IN_PROD as u64),
        ("offsetof xencons_interface.out_cons", console::OFFSET_OUT_CONS as u64),
        ("offsetof xencons_interface.out_prod", console::OFFSET_OUT_PROD as u64),
        ("XENVER_version", version::XENVER_version as u64),
        ("XENVER_extraversion", version::XENVER_extraversion as u64),
        ("XEN_EXTRAVERSION_LEN", version::XEN_EXTRAVERSION_LEN as u64),
        ("XEN_CPUID_FIRST_LEAF", cpuid::XEN_CPUID_FIRST_LEAF as u64),
        ("__HYPERVISOR_sched_op", xen_sys::__HYPERVISOR_sched_op as u64),
        ("__HYPERVISOR_event_channel_op", xen_sys::__HYPERVISOR_event_channel_op as u64),
        ("__HYPERVISOR_hvm_op", xen_sys::__HYPERVISOR_hvm_op as u64),
        ("__HYPERVISOR_xen_version", xen_sys::__HYPERVISOR_xen_version as u64),
        ("SCHEDOP_yield", xen_sys::SCHEDOP_yield as u64),
        ("SCHEDOP_shutdown", xen_sys::SCHEDOP_shutdown as u64),
        ("SCHEDOP_poll", xen_sys::SCHEDOP_poll as u64),
        ("SHUTDOWN_poweroff", xen_sys::SHUTDOWN_poweroff as u64),
        ("SHUTDOWN_reboot", xen_sys::SHUTDOWN_reboot as u64),
        ("SHUTDOWN_crash", xen_sys::SHUTDOWN_crash as u64),
        ("EVTCHNOP_send", xen_sys::EVTCHNOP_send as u64),
        ("sizeof evtchn_send", size_of::<xen_sys::evtchn_send>() as u64),
        ("sizeof sched_shutdown", size_of::<xen_sys::sched_shutdown>() as u64),
        ("XEN_ELFNOTE_PHYS32_ENTRY", xen_sys::XEN_ELFNOTE_PHYS32_ENTRY as u64),
        ("XEN_ELFNOTE_GUEST_OS", xen_sys::XEN_ELFNOTE_GUEST_OS as u64),
        ("XEN_ELFNOTE_XEN_VERSION", xen_sys::XEN_ELFNOTE_XEN_VERSION as u64),
        ("XEN_ELFNOTE_LOADER", xen_sys::XEN_ELFNOTE_LOADER as u64),
        ("sizeof shared_info", shared::SIZEOF_SHARED_INFO as u64),
        ("offsetof shared_info.vcpu_info", shared::OFFSET_VCPU_INFO as u64),
        ("offsetof shared_info.evtchn_pending", shared::OFFSET_EVTCHN_PENDING as u64),
        ("offsetof shared_info.evtchn_mask", shared::OFFSET_EVTCHN_MASK as u64),
        ("offsetof shared_info.wc_version", shared::OFFSET_WC_VERSION as u64),
        ("offsetof shared_info.wc_sec", shared::OFFSET_WC_SEC as u64),
        ("offsetof shared_info.wc_nsec", shared::OFFSET_WC_NSEC as u64),
        ("offsetof shared_info.wc_sec_hi", shared::OFFSET_WC_SEC_HI as u64),
        ("sizeof vcpu_info", shared::SIZEOF_VCPU_INFO as u64),
        ("offsetof vcpu_info.evtchn_upcall_pending", shared::VCPU_UPCALL_PENDING as u64),
        ("offsetof vcpu_info.evtchn_upcall_mask", shared::VCPU_UPCALL_MASK as u64),
        ("offsetof vcpu_info.evtchn_pending_sel", shared::VCPU_PENDING_SEL as u64),
        ("offsetof vcpu_info.time", shared::VCPU_TIME as u64),
        ("sizeof vcpu_time_info", shared::SIZEOF_VCPU_TIME_INFO as u64),
        ("offsetof vcpu_time_info.version", shared::TIME_VERSION as u64),
        ("offsetof vcpu_time_info.tsc_timestamp", shared::TIME_TSC_TIMESTAMP as u64),
        ("offsetof vcpu_time_info.system_time", shared::TIME_SYSTEM_TIME as u64),
        ("offsetof vcpu_time_info.tsc_to_system_mul", shared::TIME_TSC_TO_SYSTEM_MUL as u64),
        ("offsetof vcpu_time_info.tsc_shift", shared::TIME_TSC_SHIFT as u64),
        ("offsetof vcpu_time_info.flags", shared::TIME_FLAGS as u64),
        ("XEN_LEGACY_MAX_VCPUS", shared::XEN_LEGACY_MAX_VCPUS as u64),
        ("sizeof xen_add_to_physmap", size_of::<memory::xen_add_to_physmap>() as u64),
        ("offsetof xen_add_to_physmap.domid", offset_of!(memory::xen_add_to_physmap, domid) as u64),
        ("offsetof xen_add_to_physmap.size", offset_of!(memory::xen_add_to_physmap, size) as u64),
        ("offsetof xen_add_to_physmap.space", offset_of!(memory::xen_add_to_physmap, space) as u64),
        ("offsetof xen_add_to_physmap.idx", offset_of!(memory::xen_add_to_physmap, idx) as u64),
        ("offsetof xen_add_to_physmap.gpfn", offset_of!(memory::xen_add_to_physmap, gpfn) as u64),
        ("XENMEM_add_to_physmap", memory::XENMEM_add_to_physmap as u64),
        ("XENMAPSPACE_shared_info", memory::XENMAPSPACE_shared_info as u64),
        ("XENMAPSPACE_grant_table", memory::XENMAPSPACE_grant_table as u64),
        ("sizeof gnttab_query_size", size_of::<grant::gnttab_query_size>() as u64),
        ("offsetof gnttab_query_size.dom", offset_of!(grant::gnttab_query_size, dom) as u64),
        ("offsetof gnttab_query_size.nr_frames", offset_of!(grant::gnttab_query_size, nr_frames) as u64),
        ("offsetof gnttab_query_size.max_nr_frames", offset_of!(grant::gnttab_query_size, max_nr_frames) as u64),
        ("offsetof gnttab_query_size.status", offset_of!(grant::gnttab_query_size, status) as u64),
        ("sizeof grant_entry_v1", grant::ENTRY_SIZE as u64),
        ("offsetof grant_entry_v1.flags", grant::OFFSET_FLAGS as u64),
        ("offsetof grant_entry_v1.domid", grant::OFFSET_DOMID as u64),
        ("offsetof grant_entry_v1.frame", grant::OFFSET_FRAME as u64),
        ("GNTTABOP_setup_table", grant::GNTTABOP_setup_table as u64),
        ("GNTTABOP_query_size", grant::GNTTABOP_query_size as u64),
        ("GTF_permit_access", grant::GTF_permit_access as u64),
        ("GTF_readonly", grant::GTF_readonly as u64),
        ("GTF_reading", grant::GTF_reading as u64),
        ("GTF_writing", grant::GTF_writing as u64),
        ("GNTTAB_NR_RESERVED_ENTRIES", grant::GNTTAB_NR_RESERVED_ENTRIES as u64),
        ("sizeof evtchn_alloc_unbound", size_of::<evtchn::evtchn_alloc_unbound>() as u64),
        ("offsetof evtchn_alloc_unbound.dom", offset_of!(evtchn::evtchn_alloc_unbound, dom) as u64),
        ("offsetof evtchn_alloc_unbound.remote_dom", offset_of!(evtchn::evtchn_alloc_unbound, remote_dom) as u64),
        ("offsetof evtchn_alloc_unbound.port", offset_of!(evtchn::evtchn_alloc_unbound, port) as u64),
        ("sizeof evtchn_bind_interdomain", size_of::<evtchn::evtchn_bind_interdomain>() as u64),
        ("offsetof evtchn_bind_interdomain.remote_dom", offset_of!(evtchn::evtchn_bind_interdomain, remote_dom) as u64),
        ("offsetof evtchn_bind_interdomain.remote_port", offset_of!(evtchn::evtchn_bind_interdomain, remote_port) as u64),
        ("offsetof evtchn_bind_interdomain.local_port", offset_of!(evtchn::evtchn_bind_interdomain, local_port) as u64),
        ("sizeof evtchn_bind_virq", size_of::<evtchn::evtchn_bind_virq>() as u64),
        ("offsetof evtchn_bind_virq.virq", offset_of!(evtchn::evtchn_bind_virq, virq) as u64),
        ("offsetof evtchn_bind_virq.vcpu", offset_of!(evtchn::evtchn_bind_virq, vcpu) as u64),
        ("offsetof evtchn_bind_virq.port", offset_of!(evtchn::evtchn_bind_virq, port) as u64),
        ("sizeof evtchn_close", size_of::<evtchn::evtchn_port_arg>() as u64),
        ("sizeof evtchn_unmask", size_of::<evtchn::evtchn_port_arg>() as u64),
        ("EVTCHNOP_alloc_unbound", evtchn::EVTCHNOP_alloc_unbound as u64),
        ("EVTCHNOP_bind_interdomain", evtchn::EVTCHNOP_bind_interdomain as u64),
        ("EVTCHNOP_bind_virq", evtchn::EVTCHNOP_bind_virq as u64),
        ("EVTCHNOP_close", evtchn::EVTCHNOP_close as u64),
        ("EVTCHNOP_unmask", evtchn::EVTCHNOP_unmask as u64),
        ("VIRQ_TIMER", evtchn::VIRQ_TIMER as u64),
        ("sizeof vcpu_set_singleshot_timer", size_of::<vcpu::vcpu_set_singleshot_timer>() as u64),
        ("offsetof vcpu_set_singleshot_timer.timeout_abs_ns", offset_of!(vcpu::vcpu_set_singleshot_timer, timeout_abs_ns) as u64),
        ("offsetof vcpu_set_singleshot_timer.flags", offset_of!(vcpu::vcpu_set_singleshot_timer, flags) as u64),
        ("VCPUOP_set_singleshot_timer", vcpu::VCPUOP_set_singleshot_timer as u64),
        ("VCPUOP_stop_singleshot_timer", vcpu::VCPUOP_stop_singleshot_timer as u64),
        ("VCPU_SSHOTTMR_future", vcpu::VCPU_SSHOTTMR_future as u64),
        ("VCPUOP_stop_periodic_timer", vcpu::VCPUOP_stop_periodic_timer as u64),
        ("HVM_PARAM_CALLBACK_IRQ", hvm::HVM_PARAM_CALLBACK_IRQ as u64),
        ("HVM_PARAM_CALLBACK_TYPE_VECTOR", hvm::HVM_PARAM_CALLBACK_TYPE_VECTOR),
        ("__HYPERVISOR_memory_op", hypercalls::__HYPERVISOR_memory_op as u64),
        ("__HYPERVISOR_grant_table_op", hypercalls::__HYPERVISOR_grant_table_op as u64),
        ("__HYPERVISOR_vcpu_op", hypercalls::__HYPERVISOR_vcpu_op as u64),
    ];
    let mut mismatches = Vec::new();
    for (name, value) in &rust {
        match c.get(*name) {
            Some(cv) if cv == value => {}
            other => mismatches.push(format!("{name}: rust {value}, C {other:?}")),
        }
    }
    assert_eq!(c.len(), rust.len(), "every C value must be compared");
    assert!(mismatches.is_empty(), "ABI mismatches:\n{}", mismatches.join("\n"));
}
