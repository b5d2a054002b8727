//! The x86 `cpuid` instruction: raw register values for the leaves `cpu` decodes (cache
//! geometry, vendor and brand string), readable on every OS. Decoding lives in `crate::cpu`,
//! where it is tested on captured values.

use std::arch::x86_64::{__cpuid, __cpuid_count};

/// `(eax, ebx, ecx, edx)` of `leaf`, `subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let r = __cpuid_count(leaf, subleaf);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// The highest standard and extended leaves this CPU answers.
pub fn max_leaves() -> (u32, u32) {
    (__cpuid(0).eax, __cpuid(0x8000_0000).eax)
}
