//! Parts of Xen's public ABI that `xen-sys` does not provide, defined once here.
//!
//! Each layout is a `#[repr(C)]` struct mirroring the C header, plus byte offsets for code that decodes
//! raw bytes (the start-info reader never casts guest memory to a struct). `tests/abi_c_headers.rs`
//! compiles a C program against `/usr/include/xen` and compares every size, offset and constant.
#![allow(non_camel_case_types, non_upper_case_globals)]

/// `arch-x86/hvm/start_info.h`.
pub mod start_info {
    pub const XEN_HVM_START_MAGIC_VALUE: u32 = 0x336e_c578;
    pub const XEN_HVM_MEMMAP_TYPE_RAM: u32 = 1;
    pub const XEN_HVM_MEMMAP_TYPE_RESERVED: u32 = 2;
    pub const XEN_HVM_MEMMAP_TYPE_ACPI: u32 = 3;
    pub const XEN_HVM_MEMMAP_TYPE_NVS: u32 = 4;
    pub const XEN_HVM_MEMMAP_TYPE_UNUSABLE: u32 = 5;
    pub const XEN_HVM_MEMMAP_TYPE_DISABLED: u32 = 6;
    pub const XEN_HVM_MEMMAP_TYPE_PMEM: u32 = 7;

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct hvm_start_info {
        pub magic: u32,
        pub version: u32,
        pub flags: u32,
        pub nr_modules: u32,
        pub modlist_paddr: u64,
        pub cmdline_paddr: u64,
        pub rsdp_paddr: u64,
        pub memmap_paddr: u64,
        pub memmap_entries: u32,
        pub reserved: u32,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct hvm_modlist_entry {
        pub paddr: u64,
        pub size: u64,
        pub cmdline_paddr: u64,
        pub reserved: u64,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct hvm_memmap_table_entry {
        pub addr: u64,
        pub size: u64,
        pub r#type: u32,
        pub reserved: u32,
    }

    /// Byte ranges of `hvm_start_info` fields (little endian).
    pub mod field {
        use core::ops::Range;
        pub const MAGIC: Range<usize> = 0..4;
        pub const VERSION: Range<usize> = 4..8;
        pub const FLAGS: Range<usize> = 8..12;
        pub const NR_MODULES: Range<usize> = 12..16;
        pub const MODLIST_PADDR: Range<usize> = 16..24;
        pub const CMDLINE_PADDR: Range<usize> = 24..32;
        pub const RSDP_PADDR: Range<usize> = 32..40;
        /// Version 1 and newer.
        pub const MEMMAP_PADDR: Range<usize> = 40..48;
        pub const MEMMAP_ENTRIES: Range<usize> = 48..52;
        pub const RESERVED: Range<usize> = 52..56;
        /// Size of version 0 of the structure.
        pub const V0_LEN: usize = 40;
        /// Size of version 1 of the structure.
        pub const V1_LEN: usize = 56;
    }

    /// Byte ranges of `hvm_modlist_entry` fields.
    pub mod modlist_field {
        use core::ops::Range;
        pub const PADDR: Range<usize> = 0..8;
        pub const SIZE: Range<usize> = 8..16;
        pub const CMDLINE_PADDR: Range<usize> = 16..24;
        pub const LEN: usize = 32;
    }

    /// Byte ranges of `hvm_memmap_table_entry` fields.
    pub mod memmap_field {
        use core::ops::Range;
        pub const ADDR: Range<usize> = 0..8;
        pub const SIZE: Range<usize> = 8..16;
        pub const TYPE: Range<usize> = 16..20;
        pub const LEN: usize = 24;
    }
}

/// `hvm/hvm_op.h` and `hvm/params.h`.
pub mod hvm {
    pub const HVMOP_set_param: u32 = 0;
    pub const HVMOP_get_param: u32 = 1;
    pub const HVM_PARAM_STORE_PFN: u32 = 1;
    pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
    pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
    pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
    /// `HVM_PARAM_CALLBACK_IRQ`: how event channel upcalls are delivered.
    pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
    /// Value type (bits 63:56) of `HVM_PARAM_CALLBACK_IRQ`: deliver as this vector (bits 7:0), level
    /// triggered on `vcpu_info.evtchn_upcall_pending`, no local APIC EOI.
    pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;
    /// `xen.h`: DOMID_SELF.
    pub const DOMID_SELF: u16 = 0x7ff0;

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct xen_hvm_param {
        pub domid: u16,
        pub pad: u16,
        pub index: u32,
        pub value: u64,
    }
}

/// `io/console.h`.
pub mod console {
    pub const IN_RING_SIZE: usize = 1024;
    pub const OUT_RING_SIZE: usize = 2048;

    /// Only used to check the layout; the ring itself is only ever accessed through raw pointers at the
    /// offsets below, because the backend writes it concurrently.
    #[repr(C)]
    pub struct xencons_interface {
        pub r#in: [u8; IN_RING_SIZE],
        pub out: [u8; OUT_RING_SIZE],
        pub in_cons: u32,
        pub in_prod: u32,
        pub out_cons: u32,
        pub out_prod: u32,
    }

    pub const OFFSET_IN: usize = 0;
    pub const OFFSET_OUT: usize = 1024;
    pub const OFFSET_IN_CONS: usize = 3072;
    pub const OFFSET_IN_PROD: usize = 3076;
    pub const OFFSET_OUT_CONS: usize = 3080;
    pub const OFFSET_OUT_PROD: usize = 3084;
}

/// `version.h`.
pub mod version {
    pub const XENVER_version: u32 = 0;
    pub const XENVER_extraversion: u32 = 1;
    pub const XEN_EXTRAVERSION_LEN: usize = 16;
}

/// Hypervisor CPUID leaves (`arch-x86/cpuid.h`).
pub mod cpuid {
    /// First leaf to look at for the "XenVMMXenVMM" signature; Xen may sit at +0x100 steps (Viridian).
    pub const XEN_CPUID_FIRST_LEAF: u32 = 0x4000_0000;
    pub const XEN_CPUID_SIGNATURE_EBX: u32 = 0x566e_6558; // "XenV"
    pub const XEN_CPUID_SIGNATURE_ECX: u32 = 0x65584d4d; // "MMXe"
    pub const XEN_CPUID_SIGNATURE_EDX: u32 = 0x4d4d566e; // "nVMM"
}

/// `xen.h` shared_info / vcpu_info / vcpu_time_info layouts. Only offsets: these pages are written by
/// Xen at any time, so they are accessed through raw pointers (atomics, volatile), never as structs.
pub mod shared {
    pub const PAGE_SIZE: usize = 4096;
    pub const XEN_LEGACY_MAX_VCPUS: usize = 32;
    pub const SIZEOF_SHARED_INFO: usize = 3136;
    pub const SIZEOF_VCPU_INFO: usize = 64;
    pub const OFFSET_VCPU_INFO: usize = 0;
    pub const OFFSET_EVTCHN_PENDING: usize = 2048;
    pub const OFFSET_EVTCHN_MASK: usize = 2560;
    pub const OFFSET_WC_VERSION: usize = 3072;
    pub const OFFSET_WC_SEC: usize = 3076;
    pub const OFFSET_WC_NSEC: usize = 3080;
    pub const OFFSET_WC_SEC_HI: usize = 3084;
    /// 64 words of 64 bits: 4096 ports with the 2-level ABI.
    pub const EVTCHN_WORDS: usize = 64;

    /// Offsets inside `struct vcpu_info`.
    pub const VCPU_UPCALL_PENDING: usize = 0;
    pub const VCPU_UPCALL_MASK: usize = 1;
    pub const VCPU_PENDING_SEL: usize = 8;
    pub const VCPU_TIME: usize = 32;

    /// Offsets inside `struct vcpu_time_info`.
    pub const TIME_VERSION: usize = 0;
    pub const TIME_TSC_TIMESTAMP: usize = 8;
    pub const TIME_SYSTEM_TIME: usize = 16;
    pub const TIME_TSC_TO_SYSTEM_MUL: usize = 24;
    pub const TIME_TSC_SHIFT: usize = 28;
    pub const TIME_FLAGS: usize = 29;
    pub const SIZEOF_VCPU_TIME_INFO: usize = 32;
}

/// `memory.h`.
pub mod memory {
    pub const XENMEM_add_to_physmap: u32 = 7;
    pub const XENMAPSPACE_shared_info: u32 = 0;
    pub const XENMAPSPACE_grant_table: u32 = 1;

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct xen_add_to_physmap {
        pub domid: u16,
        pub size: u16,
        pub space: u32,
        pub idx: u64,
        pub gpfn: u64,
    }
}

/// `grant_table.h` (version 1).
pub mod grant {
    pub const GNTTABOP_setup_table: u32 = 2;
    pub const GNTTABOP_query_size: u32 = 6;
    pub const GTF_permit_access: u16 = 1;
    pub const GTF_readonly: u16 = 4;
    pub const GTF_reading: u16 = 8;
    pub const GTF_writing: u16 = 16;
    pub const GNTST_okay: i16 = 0;
    /// Entries 0..8 are reserved for the toolstack (console, xenstore).
    pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
    /// `sizeof(grant_entry_v1_t)`.
    pub const ENTRY_SIZE: usize = 8;
    pub const ENTRIES_PER_FRAME: u32 = 4096 / ENTRY_SIZE as u32;
    pub const OFFSET_FLAGS: usize = 0;
    pub const OFFSET_DOMID: usize = 2;
    pub const OFFSET_FRAME: usize = 4;

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct grant_entry_v1 {
        pub flags: u16,
        pub domid: u16,
        pub frame: u32,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct gnttab_query_size {
        pub dom: u16,
        pub nr_frames: u32,
        pub max_nr_frames: u32,
        pub status: i16,
    }
}

/// `event_channel.h` (what `xen-sys` lacks or gets awkward).
pub mod evtchn {
    pub const EVTCHNOP_bind_interdomain: u32 = 0;
    pub const EVTCHNOP_bind_virq: u32 = 1;
    pub const EVTCHNOP_close: u32 = 3;
    pub const EVTCHNOP_send: u32 = 4;
    pub const EVTCHNOP_alloc_unbound: u32 = 6;
    pub const EVTCHNOP_unmask: u32 = 9;
    pub const VIRQ_TIMER: u32 = 0;

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct evtchn_alloc_unbound {
        pub dom: u16,
        pub remote_dom: u16,
        pub port: u32,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct evtchn_bind_interdomain {
        pub remote_dom: u16,
        pub remote_port: u32,
        pub local_port: u32,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct evtchn_bind_virq {
        pub virq: u32,
        pub vcpu: u32,
        pub port: u32,
    }

    /// `evtchn_close`, `evtchn_unmask`, `evtchn_send`: one port.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct evtchn_port_arg {
        pub port: u32,
    }
}

/// `vcpu.h`.
pub mod vcpu {
    pub const VCPUOP_stop_periodic_timer: u32 = 7;
    pub const VCPUOP_set_singleshot_timer: u32 = 8;
    pub const VCPUOP_stop_singleshot_timer: u32 = 9;
    pub const VCPU_SSHOTTMR_future: u32 = 1;

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct vcpu_set_singleshot_timer {
        pub timeout_abs_ns: u64,
        pub flags: u32,
    }
}

/// Hypercall numbers (`xen.h`) not in `xen-sys`'s re-exports we use.
pub mod hypercalls {
    pub const __HYPERVISOR_memory_op: u32 = 12;
    pub const __HYPERVISOR_grant_table_op: u32 = 20;
    pub const __HYPERVISOR_vcpu_op: u32 = 24;
    pub const __HYPERVISOR_sched_op: u32 = 29;
    pub const __HYPERVISOR_event_channel_op: u32 = 32;
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn byte_ranges_match_the_repr_c_structs() {
        use start_info::*;
        assert_eq!(size_of::<hvm_start_info>(), field::V1_LEN);
        assert_eq!(offset_of!(hvm_start_info, memmap_paddr), field::V0_LEN);
        assert_eq!(offset_of!(hvm_start_info, cmdline_paddr), field::CMDLINE_PADDR.start);
        assert_eq!(offset_of!(hvm_start_info, memmap_entries), field::MEMMAP_ENTRIES.start);
        assert_eq!(size_of::<hvm_modlist_entry>(), modlist_field::LEN);
        assert_eq!(size_of::<hvm_memmap_table_entry>(), memmap_field::LEN);
        assert_eq!(offset_of!(hvm_memmap_table_entry, r#type), memmap_field::TYPE.start);
        assert_eq!(offset_of!(console::xencons_interface, out_prod), console::OFFSET_OUT_PROD);
        assert_eq!(offset_of!(console::xencons_interface, out), console::OFFSET_OUT);
        assert_eq!(size_of::<hvm::xen_hvm_param>(), 16);
    }

    #[test]
    fn signature_words_spell_xenvmm() {
        let mut s = [0u8; 12];
        s[0..4].copy_from_slice(&cpuid::XEN_CPUID_SIGNATURE_EBX.to_le_bytes());
        s[4..8].copy_from_slice(&cpuid::XEN_CPUID_SIGNATURE_ECX.to_le_bytes());
        s[8..12].copy_from_slice(&cpuid::XEN_CPUID_SIGNATURE_EDX.to_le_bytes());
        assert_eq!(&s, b"XenVMMXenVMM");
    }
}
