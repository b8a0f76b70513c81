//! The PVH entry: ELF note, 32-bit start, boot page tables, long mode, and the jump to Rust.
//!
//! Xen (or QEMU) enters at `pvh_start32` in 32-bit protected mode, paging off, interrupts off, with
//! `%ebx` = physical address of `hvm_start_info`. We zero .bss, identity-map 0..4 GiB (2 MiB pages;
//! the first 2 MiB with 4 KiB pages so page 0 can be unmapped later), enable PAE + long mode + paging, load a
//! boot GDT, far-return into 64-bit code and call `pvh_boot_entry64(start_info_paddr)`.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz: "Xen\0" */
    .long 8                 /* descsz */
    .long {phys32_entry}    /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start32       /* 8 bytes: QEMU reads a 64-bit value, Xen takes 4 or 8 */
    .balign 4

    .section .bss.pvh_boot, "aw", @nobits
    .balign 4096
    .global pvh_pml4, pvh_pdpt, pvh_pd, pvh_pt0, pvh_pd_pool, pvh_boot_stack, pvh_boot_stack_top
pvh_pml4:       .skip 4096
pvh_pdpt:       .skip 4096
pvh_pd:         .skip 4096 * 4
pvh_pt0:        .skip 4096
pvh_pd_pool:    .skip 4096 * 4
    .global pvh_stack_guard
pvh_stack_guard: .skip 4096             /* unmapped by paging::enable_guards: catches stack overflow */
pvh_boot_stack: .skip {stack_size}
pvh_boot_stack_top:

    .section .rodata.pvh_boot, "a"
    .balign 8
pvh_gdt32:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
pvh_gdt32_end:
pvh_gdt32_ptr:
    .word pvh_gdt32_end - pvh_gdt32 - 1
    .long pvh_gdt32

    .section .text.pvh_entry, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov esi, ebx                        /* start info: kept in esi */

    /* Zero .bss (Xen and QEMU do, but the image does not rely on it). */
    mov edi, offset __bss_start
    mov ecx, offset __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd

    mov esp, offset pvh_boot_stack_top

    /* PML4[0] -> PDPT; PDPT[0..4] -> PD[0..4] */
    mov eax, offset pvh_pdpt
    or eax, 3
    mov [pvh_pml4], eax
    mov eax, offset pvh_pd
    or eax, 3
    xor ecx, ecx
2:  mov [pvh_pdpt + ecx * 8], eax
    add eax, 4096
    inc ecx
    cmp ecx, 4
    jb 2b

    /* PD entries: 2048 x 2 MiB pages, present | writable | huge */
    mov eax, 0x83
    xor ecx, ecx
3:  mov [pvh_pd + ecx * 8], eax
    add eax, 0x200000
    inc ecx
    cmp ecx, 2048
    jb 3b

    /* The first 2 MiB with 4 KiB pages, so that page 0 can be unmapped (null guard) once the start
       info (which QEMU places partly in page 0) has been copied: see paging::enable_guards. */
    mov eax, offset pvh_pt0
    or eax, 3
    mov [pvh_pd], eax
    mov eax, 0x0003
    xor ecx, ecx
4:  mov [pvh_pt0 + ecx * 8], eax
    add eax, 0x1000
    inc ecx
    cmp ecx, 512
    jb 4b

    mov eax, offset pvh_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                        /* PAE */
    mov cr4, eax
    mov ecx, 0xc0000080                 /* EFER */
    rdmsr
    or eax, 0x100                       /* LME */
    wrmsr
    mov eax, cr0
    or eax, 0x80010001                  /* PG | WP | PE */
    mov cr0, eax

    lgdt [pvh_gdt32_ptr]
    mov eax, 0x08                       /* far return into the 64-bit code segment */
    push eax
    mov eax, offset pvh_start64
    push eax
    retf

    .code64
pvh_start64:
    mov eax, 0x10
    mov ds, eax
    mov es, eax
    mov ss, eax
    xor eax, eax
    mov fs, eax
    mov gs, eax
    lea rsp, [rip + pvh_boot_stack_top]
    mov edi, esi                        /* zero-extends: start info paddr */
    xor ebp, ebp                        /* ends the stack walk */
    call pvh_boot_entry64
    ud2
    "#,
    phys32_entry = const xen_sys_phys32_entry(),
    stack_size = const BOOT_STACK_SIZE,
);

const fn xen_sys_phys32_entry() -> u32 {
    hypervisor::xen_sys::XEN_ELFNOTE_PHYS32_ENTRY
}

/// Size of the stack `boot_main` and the application run on.
pub const BOOT_STACK_SIZE: usize = 128 * 1024;

extern "C" {
    static pvh_boot_stack: u8;
    static pvh_boot_stack_top: u8;
}

/// The boot stack's address range.
pub fn boot_stack() -> core::ops::Range<u64> {
    // Only the addresses of the symbols are taken (no read), which needs no `unsafe`.
    (&raw const pvh_boot_stack) as u64..(&raw const pvh_boot_stack_top) as u64
}

/// Bytes of the boot stack used so far (its high-water mark): the stack starts zeroed (.bss), so the
/// first non-zero word from the bottom marks the deepest point reached (a few zero words stored there
/// would hide a little of it).
pub fn stack_high_water() -> usize {
    let r = boot_stack();
    let mut addr = r.start;
    while addr < r.end {
        // SAFETY: `addr` is an 8-byte-aligned word inside the boot stack (the stack follows the page-
        // aligned guard page; the loop stays below its top), a .bss array of this image mapped writable
        // for the program's life. Words below the stack pointer are dead stack that nothing else reads;
        // a volatile read of a plain integer forms no reference.
        let word = unsafe { (addr as *const u64).read_volatile() };
        if word != 0 {
            break;
        }
        addr += 8;
    }
    (r.end - addr) as usize
}
