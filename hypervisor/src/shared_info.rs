//! `shared_info`: mapped with `XENMEM_add_to_physmap(XENMAPSPACE_shared_info)` over a page of this
//! image (target only). Xen writes it at any time, so it is only ever touched through atomics or
//! volatile reads at the offsets of `abi::shared` (checked against the C headers); no `&`/`&mut` to
//! its bytes exists.

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::abi::hvm::DOMID_SELF;
use crate::abi::hypercalls::__HYPERVISOR_memory_op;
use crate::abi::memory::{xen_add_to_physmap, XENMAPSPACE_shared_info, XENMEM_add_to_physmap};
use crate::abi::shared::*;
use crate::evtchn::scan::EventBits;
use crate::hvm::XenError;
use crate::hypercall::Xen;
use crate::pvclock::{TimeInfo, TimeSource, WallBase};

#[repr(C, align(4096))]
struct Page(UnsafeCell<[u8; PAGE_SIZE]>);

// SAFETY: Rust never reads or writes the page's contents through the static; after `map` the frame
// behind it is Xen's shared_info, accessed only through raw pointers (atomics/volatile).
unsafe impl Sync for Page {}

static PAGE: Page = Page(UnsafeCell::new([0; PAGE_SIZE]));
static MAPPED: spin::Once<SharedInfo> = spin::Once::new();

/// The mapped `shared_info` page.
pub struct SharedInfo {
    base: NonNull<u8>,
}

// SAFETY: only atomics and volatile reads are done through `base`, valid from any context.
unsafe impl Send for SharedInfo {}
// SAFETY: as above.
unsafe impl Sync for SharedInfo {}

/// Asks Xen to place frame `idx` of `space` at guest frame `gpfn`.
pub(crate) fn add_to_physmap(xen: &Xen, space: u32, idx: u64, gpfn: u64) -> Result<(), XenError> {
    let mut arg = xen_add_to_physmap { domid: DOMID_SELF, size: 0, space, idx, gpfn };
    // SAFETY: XENMEM_add_to_physmap takes a pointer to a `struct xen_add_to_physmap` (layout checked
    // against the C header) on our stack. The caller owns the page at `gpfn` and holds no reference to it.
    let rc = unsafe { xen.call(__HYPERVISOR_memory_op, [u64::from(XENMEM_add_to_physmap), &mut arg as *mut _ as u64, 0, 0, 0]) };
    if rc < 0 {
        Err(XenError(rc))
    } else {
        Ok(())
    }
}

impl SharedInfo {
    /// Maps shared_info (once; later calls return the same mapping).
    pub fn map(xen: &Xen) -> Result<&'static SharedInfo, XenError> {
        MAPPED.try_call_once(|| {
            let addr = PAGE.0.get() as u64;
            // Identity mapping: the static's address is its guest-physical address.
            add_to_physmap(xen, XENMAPSPACE_shared_info, 0, addr >> 12)?;
            Ok(SharedInfo { base: NonNull::new(PAGE.0.get().cast::<u8>()).ok_or(XenError(-22))? })
        })
    }

    /// The mapping, if [`SharedInfo::map`] succeeded before.
    pub fn get() -> Option<&'static SharedInfo> {
        MAPPED.get()
    }

    fn ptr(&self, offset: usize) -> *mut u8 {
        assert!(offset < SIZEOF_SHARED_INFO, "shared_info offset out of range (our bug)");
        // SAFETY: inside the page (checked above).
        unsafe { self.base.as_ptr().add(offset) }
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8));
        // SAFETY: an 8-byte-aligned word inside the mapped page (ptr checks the range), which lives for
        // the program; it is only accessed atomically, by us and by Xen.
        unsafe { AtomicU64::from_ptr(self.ptr(offset).cast()) }
    }

    fn u32_at(&self, offset: usize) -> &AtomicU32 {
        assert!(offset.is_multiple_of(4));
        // SAFETY: as `u64_at`, for an aligned 32-bit word.
        unsafe { AtomicU32::from_ptr(self.ptr(offset).cast()) }
    }

    fn u8_at(&self, offset: usize) -> &AtomicU8 {
        // SAFETY: as `u64_at`, for a byte.
        unsafe { AtomicU8::from_ptr(self.ptr(offset)) }
    }

    fn vcpu(&self, vcpu: usize) -> usize {
        assert!(vcpu < XEN_LEGACY_MAX_VCPUS);
        OFFSET_VCPU_INFO + vcpu * SIZEOF_VCPU_INFO
    }

    /// Address of vCPU `vcpu`'s `evtchn_upcall_pending` byte (for the interrupt stub, which clears it).
    pub fn upcall_pending_addr(&self, vcpu: usize) -> u64 {
        self.ptr(self.vcpu(vcpu) + VCPU_UPCALL_PENDING) as u64
    }

    pub fn upcall_pending(&self, vcpu: usize) -> bool {
        self.u8_at(self.vcpu(vcpu) + VCPU_UPCALL_PENDING).load(Ordering::Acquire) != 0
    }

    pub fn clear_upcall_pending(&self, vcpu: usize) {
        self.u8_at(self.vcpu(vcpu) + VCPU_UPCALL_PENDING).store(0, Ordering::SeqCst);
    }

    pub fn pending_sel(&self, vcpu: usize) -> u64 {
        self.u64_at(self.vcpu(vcpu) + VCPU_PENDING_SEL).load(Ordering::Acquire)
    }

    pub(crate) fn take_pending_sel(&self, vcpu: usize) -> u64 {
        self.u64_at(self.vcpu(vcpu) + VCPU_PENDING_SEL).swap(0, Ordering::AcqRel)
    }

    pub(crate) fn pending_word(&self, word: usize) -> &AtomicU64 {
        assert!(word < EVTCHN_WORDS);
        self.u64_at(OFFSET_EVTCHN_PENDING + word * 8)
    }

    pub(crate) fn mask_word(&self, word: usize) -> &AtomicU64 {
        assert!(word < EVTCHN_WORDS);
        self.u64_at(OFFSET_EVTCHN_MASK + word * 8)
    }

    /// vCPU `vcpu`'s time record.
    pub fn time(&self, vcpu: usize) -> VcpuTime<'_> {
        VcpuTime { si: self, at: self.vcpu(vcpu) + VCPU_TIME }
    }

    /// Wall-clock time of system time 0; retries while `wc_version` is odd or changes.
    pub fn wall_base(&self) -> WallBase {
        loop {
            let v1 = self.u32_at(OFFSET_WC_VERSION).load(Ordering::Acquire);
            if v1 & 1 == 0 {
                let sec = self.u32_at(OFFSET_WC_SEC).load(Ordering::Relaxed);
                let nsec = self.u32_at(OFFSET_WC_NSEC).load(Ordering::Relaxed);
                let hi = self.u32_at(OFFSET_WC_SEC_HI).load(Ordering::Relaxed);
                fence(Ordering::Acquire);
                if self.u32_at(OFFSET_WC_VERSION).load(Ordering::Relaxed) == v1 {
                    return WallBase { sec: (u64::from(hi) << 32) | u64::from(sec), nsec };
                }
            }
            core::hint::spin_loop();
        }
    }
}

/// The `vcpu_time_info` of one vCPU, as a [`TimeSource`].
pub struct VcpuTime<'a> {
    si: &'a SharedInfo,
    at: usize,
}

impl TimeSource for VcpuTime<'_> {
    fn version(&self) -> u32 {
        let v = self.si.u32_at(self.at + TIME_VERSION).load(Ordering::Acquire);
        fence(Ordering::Acquire);
        v
    }

    fn fields(&self) -> TimeInfo {
        let shift_flags = self.si.u32_at(self.at + TIME_TSC_SHIFT).load(Ordering::Relaxed);
        let info = TimeInfo {
            tsc_timestamp: self.si.u64_at(self.at + TIME_TSC_TIMESTAMP).load(Ordering::Relaxed),
            system_time: self.si.u64_at(self.at + TIME_SYSTEM_TIME).load(Ordering::Relaxed),
            tsc_to_system_mul: self.si.u32_at(self.at + TIME_TSC_TO_SYSTEM_MUL).load(Ordering::Relaxed),
            // tsc_shift and flags are bytes 28 and 29: the low bytes of the word at 28 (little endian).
            tsc_shift: shift_flags as u8 as i8,
            flags: (shift_flags >> 8) as u8,
        };
        // The fields must be read before the version is read again.
        fence(Ordering::Acquire);
        info
    }
}

/// [`EventBits`] for vCPU 0.
impl EventBits for SharedInfo {
    fn take_selector(&self) -> u64 {
        self.take_pending_sel(0)
    }
    fn pending(&self, word: usize) -> u64 {
        self.pending_word(word).load(Ordering::Acquire)
    }
    fn mask(&self, word: usize) -> u64 {
        self.mask_word(word).load(Ordering::Acquire)
    }
    fn test_and_clear_pending(&self, port: u32) -> bool {
        let bit = 1u64 << (port % 64);
        self.pending_word((port / 64) as usize).fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }
}
