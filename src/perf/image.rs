//! Whether two builds are the same program: a digest of everything an ELF executable loads
//! (every `SHF_ALLOC` section's address, size and bytes: code, read-only data, initialised
//! data; debug information and symbol tables are not loaded and are left out). Two builds of
//! changes that no code sees (documentation, an unused function the linker drops) load
//! byte-identical images, and then a timing difference between them is the machine's, not the
//! change's (see `ab_gate`).

use std::hash::Hasher;
use std::path::Path;

const SHF_ALLOC: u64 = 0x2;
const SHT_NOBITS: u32 = 8;
const SHT_NOTE: u32 = 7;

/// Loaded sections that only unwinding reads (a panic's backtrace, never the workloads): two
/// builds of the same code may order their entries differently. Their sizes still count
/// through the addresses of the sections after them.
const UNWIND_ONLY: [&[u8]; 3] = [b".eh_frame", b".eh_frame_hdr", b".gcc_except_table"];

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The digest of a 64-bit little-endian ELF file's loaded image, or `None` for anything else
/// (another format, a truncated or inconsistent file). Sections of type `NOBITS` (.bss)
/// contribute their address and size only; notes (the build ID, which hashes the debug
/// information too) and the unwind tables ([`UNWIND_ONLY`]) their address only.
pub fn loaded_image_digest(bytes: &[u8]) -> Option<u64> {
    // e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1).
    if bytes.get(..4)? != b"\x7fELF" || *bytes.get(4)? != 2 || *bytes.get(5)? != 1 {
        return None;
    }
    let shoff = usize::try_from(u64_at(bytes, 0x28)?).ok()?;
    let shentsize = usize::from(u16_at(bytes, 0x3a)?);
    let shnum = usize::from(u16_at(bytes, 0x3c)?);
    let shstrndx = usize::from(u16_at(bytes, 0x3e)?);
    if shentsize < 0x40 || shnum == 0 || shstrndx >= shnum {
        return None;
    }
    let header = |i: usize| shoff.checked_add(i.checked_mul(shentsize)?);
    let names = usize::try_from(u64_at(bytes, header(shstrndx)? + 0x18)?).ok()?;
    let name_of = |sh: usize| -> Option<&[u8]> {
        let start = names.checked_add(usize::try_from(u32_at(bytes, sh)?).ok()?)?;
        let rest = bytes.get(start..)?;
        Some(&rest[..rest.iter().position(|&c| c == 0)?])
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut loaded = 0;
    for i in 0..shnum {
        let sh = header(i)?;
        let kind = u32_at(bytes, sh + 4)?;
        let flags = u64_at(bytes, sh + 8)?;
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        let addr = u64_at(bytes, sh + 0x10)?;
        let offset = usize::try_from(u64_at(bytes, sh + 0x18)?).ok()?;
        let size = u64_at(bytes, sh + 0x20)?;
        h.write_u64(addr);
        if kind == SHT_NOTE || UNWIND_ONLY.contains(&name_of(sh)?) {
            loaded += 1;
            continue;
        }
        h.write_u64(size);
        if kind != SHT_NOBITS {
            let end = offset.checked_add(usize::try_from(size).ok()?)?;
            h.write(bytes.get(offset..end)?);
        }
        loaded += 1;
    }
    (loaded > 0).then(|| h.finish())
}

/// Whether the executables at `a` and `b` load byte-identical images (`false` when either
/// cannot be read or is not a 64-bit little-endian ELF file).
pub fn same_loaded_image(a: &Path, b: &Path) -> bool {
    let digest = |p: &Path| std::fs::read(p).ok().and_then(|b| loaded_image_digest(&b));
    matches!((digest(a), digest(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 file: the header, then `sections` as (name, flags, type, address,
    /// bytes) and a section-name table, then the section header table (the names' last).
    fn elf(sections: &[(&str, u64, u32, u64, &[u8])]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut name_at = Vec::new();
        for (name, ..) in sections {
            name_at.push(strtab.len() as u32);
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
        }
        let mut all: Vec<(u32, u64, u32, u64, &[u8])> = sections
            .iter()
            .zip(&name_at)
            .map(|((_, f, k, a, d), &n)| (n, *f, *k, *a, *d))
            .collect();
        all.push((0, 0, 3, 0, &strtab));
        let mut b = vec![0u8; 0x40];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        let mut offsets = Vec::new();
        for (.., data) in &all {
            offsets.push(b.len());
            b.extend_from_slice(data);
        }
        let shoff = b.len();
        b[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&0x40u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&(all.len() as u16).to_le_bytes());
        b[0x3e..0x40].copy_from_slice(&((all.len() - 1) as u16).to_le_bytes());
        for (i, (name, flags, kind, addr, data)) in all.iter().enumerate() {
            let mut sh = vec![0u8; 0x40];
            sh[0..4].copy_from_slice(&name.to_le_bytes());
            sh[4..8].copy_from_slice(&kind.to_le_bytes());
            sh[8..16].copy_from_slice(&flags.to_le_bytes());
            sh[0x10..0x18].copy_from_slice(&addr.to_le_bytes());
            sh[0x18..0x20].copy_from_slice(&(offsets[i] as u64).to_le_bytes());
            sh[0x20..0x28].copy_from_slice(&(data.len() as u64).to_le_bytes());
            b.extend_from_slice(&sh);
        }
        b
    }

    #[test]
    fn only_loaded_sections_count() {
        let text: &[u8] = &[0x90, 0xc3];
        let with = |text: &[u8], addr: u64, debug: &[u8], note: &[u8], eh: &[u8]| {
            elf(&[
                (".note.gnu.build-id", SHF_ALLOC, SHT_NOTE, 0x800, note),
                (".text", SHF_ALLOC, 1, addr, text),
                (".eh_frame", SHF_ALLOC, 1, 0x2000, eh),
                (".debug_info", 0, 1, 0, debug),
            ])
        };
        let base = with(text, 0x1000, b"debug info", b"id-1", b"fde-a");
        // Other debug info, build ID and unwind-table order, same code: the same image.
        let docs = with(text, 0x1000, b"other debug", b"id-2", b"fde-b");
        assert_eq!(loaded_image_digest(&base), loaded_image_digest(&docs));
        // One code byte, or the load address, changed: another image.
        let code = with(&[0x90, 0xc2], 0x1000, b"debug info", b"id-1", b"fde-a");
        let moved = with(text, 0x1010, b"debug info", b"id-1", b"fde-a");
        assert_ne!(loaded_image_digest(&base), loaded_image_digest(&code));
        assert_ne!(loaded_image_digest(&base), loaded_image_digest(&moved));
        // Not ELF, truncated, nothing loaded: no digest.
        assert_eq!(loaded_image_digest(b"#!/bin/sh\n"), None);
        assert_eq!(loaded_image_digest(&base[..base.len() - 0x40]), None);
        assert_eq!(
            loaded_image_digest(&elf(&[(".debug", 0, 1, 0, b"x")])),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_test_binary_has_a_loaded_image() {
        let exe = std::env::current_exe().unwrap();
        assert!(same_loaded_image(&exe, &exe));
    }
}
