//! The long-mode GDT and a TSS whose IST stacks the exception gates use.

use core::arch::asm;
use core::cell::UnsafeCell;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const TSS_SEL: u16 = 0x18;

/// IST indexes (1-based, as in the gate descriptor).
pub const IST_EXCEPTION: u8 = 1;
pub const IST_NMI_MC: u8 = 2;
pub const IST_DOUBLE_FAULT: u8 = 3;

const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

#[repr(C, align(16))]
struct Stacks(UnsafeCell<[[u8; IST_STACK_SIZE]; 3]>);

struct Tables {
    gdt: UnsafeCell<[u64; 5]>,
    tss: UnsafeCell<Tss>,
}

// SAFETY: written only by `init`, once, on the boot CPU before interrupts or other CPUs exist; after
// that only the CPU reads them.
unsafe impl Sync for Tables {}
// SAFETY: the stacks are only used by the CPU when it delivers exceptions.
unsafe impl Sync for Stacks {}

static TABLES: Tables = Tables {
    gdt: UnsafeCell::new([0, 0x00af_9a00_0000_ffff, 0x00cf_9200_0000_ffff, 0, 0]),
    tss: UnsafeCell::new(Tss {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        ist: [0; 7],
        reserved2: 0,
        reserved3: 0,
        iomap_base: core::mem::size_of::<Tss>() as u16,
    }),
};

static IST_STACKS: Stacks = Stacks(UnsafeCell::new([[0; IST_STACK_SIZE]; 3]));

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Loads the GDT (code, data, TSS), reloads the segment registers and the task register.
/// Call once on the boot CPU.
pub fn init() {
    let stacks = IST_STACKS.0.get() as u64;
    let tss = TABLES.tss.get();
    // SAFETY: boot-time, single CPU, interrupts off: nothing else accesses TSS or GDT yet.
    unsafe {
        // The TSS is packed (IST entries are 4-byte aligned): write through an unaligned raw pointer.
        let ist = core::ptr::addr_of_mut!((*tss).ist).cast::<u64>();
        for i in 0..3 {
            ist.add(i).write_unaligned(stacks + ((i + 1) * IST_STACK_SIZE) as u64);
        }
        let base = tss as u64;
        let limit = (core::mem::size_of::<Tss>() - 1) as u64;
        let gdt = &mut *TABLES.gdt.get();
        gdt[3] = (limit & 0xffff) | ((base & 0xff_ffff) << 16) | (0x89 << 40) | (((limit >> 16) & 0xf) << 48)
            | (((base >> 24) & 0xff) << 56);
        gdt[4] = base >> 32;
    }
    let ptr = Pointer { limit: (5 * 8 - 1) as u16, base: TABLES.gdt.get() as u64 };
    // SAFETY: the GDT above has the same code/data selectors the entry code uses, so reloading CS/DS/SS
    // keeps the flat mappings; the TSS descriptor points at a valid 104-byte TSS.
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:e}",
            "mov es, {ds:e}",
            "mov ss, {ds:e}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = const KERNEL_CS as u64,
            tmp = out(reg) _,
            ds = in(reg) KERNEL_DS as u32,
            tss = in(reg) TSS_SEL,
        );
    }
}
