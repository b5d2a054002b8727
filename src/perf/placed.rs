//! Arrays of one workload in one allocation, at fixed positions relative to 4 KiB pages.
//!
//! Where separate `Vec`s land depends on everything the process allocated before them (the
//! arguments, the environment, the command's own set-up), so two builds of the same kernel can
//! time it on differently placed data. Data placement is not noise a gate can average away:
//! an operand that starts mid-line costs split loads on every row, and two operands the same
//! distance apart modulo 4 KiB make a load wait behind a store to the other (4K aliasing). On
//! one CI machine (an AVX2 Zen 3-class EPYC) the batch-10 weight update, 784x10x30 A^T with
//! beta = 0, timed 9.1 us in one build and 10.6 us in the next, +16 % confirmed by fresh
//! processes, between two commits that differed only in the README. Placed here, every array
//! starts on a 64-byte boundary at a chosen offset within its page, whatever came before.

/// Floats in a 4 KiB page.
const PAGE_FLOATS: usize = 1024;

/// Floats in a 64-byte line.
const LINE_FLOATS: usize = 16;

/// Several `f32` arrays in one buffer, each starting on a 64-byte boundary at a fixed offset
/// modulo 4 KiB, in the order given and without overlap.
pub struct Placed {
    buf: Vec<f32>,
    /// Each array's first float and length, in `buf`.
    spans: Vec<(usize, usize)>,
}

/// One array of a [`Placed`] set: its length in floats and where it starts within a 4 KiB
/// page, in bytes (a multiple of 64, below 4096).
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub len: usize,
    pub page_offset_bytes: usize,
}

impl Placed {
    /// Zero-filled arrays laid out as `slots` asks.
    ///
    /// # Panics
    /// When an offset is not a multiple of 64 below 4096: the slots are the workload's own
    /// constants, so that is a programming error.
    pub fn new(slots: &[Slot]) -> Placed {
        let mut rel = Vec::with_capacity(slots.len());
        let mut end = 0usize;
        for s in slots {
            assert!(
                s.page_offset_bytes < 4096 && s.page_offset_bytes % 64 == 0,
                "page offset {} is not a multiple of 64 below 4096",
                s.page_offset_bytes
            );
            let want = s.page_offset_bytes / 4;
            // The first float at or past `end` that lies `want` floats into a page.
            let start = end + (want + PAGE_FLOATS - end % PAGE_FLOATS) % PAGE_FLOATS;
            rel.push((start, s.len));
            end = start + s.len;
        }
        // One page of slack lets the origin move onto a page boundary.
        let mut buf = vec![0.0f32; end + PAGE_FLOATS];
        let origin = buf.as_mut_ptr().align_offset(4096).min(PAGE_FLOATS);
        // align_offset may decline (it never does for f32 on the targets we build), and then
        // the arrays are only placed relative to each other: still the same in every build.
        let origin = if origin == PAGE_FLOATS {
            buf.as_ptr().align_offset(64).min(LINE_FLOATS)
        } else {
            origin
        };
        let spans = rel.into_iter().map(|(s, l)| (origin + s, l)).collect();
        Placed { buf, spans }
    }

    /// Array `i`.
    pub fn get(&self, i: usize) -> &[f32] {
        let (s, l) = self.spans[i];
        &self.buf[s..s + l]
    }

    /// Array `i`, writable.
    pub fn get_mut(&mut self, i: usize) -> &mut [f32] {
        let (s, l) = self.spans[i];
        &mut self.buf[s..s + l]
    }

    /// All `N` arrays at once, writable (they are disjoint and in increasing order). No
    /// allocation, so a workload may call it every iteration.
    ///
    /// # Panics
    /// When `N` is not the number of arrays.
    pub fn parts<const N: usize>(&mut self) -> [&mut [f32]; N] {
        let Placed { buf, spans } = self;
        assert_eq!(N, spans.len(), "asked for {N} of {} arrays", spans.len());
        let mut rest: &mut [f32] = buf;
        let mut at = 0;
        std::array::from_fn(|i| {
            let (s, l) = spans[i];
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(s - at);
            let (this, tail) = tail.split_at_mut(l);
            rest = tail;
            at = s + l;
            this
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Placed, Slot};

    /// Every array starts on a 64-byte boundary at its page offset, has its length, and lies
    /// after the one before it, for lengths that are and are not whole pages or lines.
    #[test]
    fn arrays_sit_at_their_page_offsets_apart_and_in_order() {
        for lens in [
            [1, 1, 1],
            [784 * 10, 300, 784 * 30],
            [1024, 2048, 4096],
            [17, 1000, 3],
        ] {
            for offs in [[0, 1024, 2048], [0, 0, 0], [4032, 64, 2048]] {
                let slots: Vec<Slot> = lens
                    .iter()
                    .zip(offs)
                    .map(|(&len, page_offset_bytes)| Slot {
                        len,
                        page_offset_bytes,
                    })
                    .collect();
                let mut p = Placed::new(&slots);
                let mut last_end = 0usize;
                let ptrs: Vec<(usize, usize)> = p
                    .parts::<3>()
                    .iter()
                    .map(|a| (a.as_ptr() as usize, a.len()))
                    .collect();
                for (i, (&(ptr, len), s)) in ptrs.iter().zip(&slots).enumerate() {
                    assert_eq!(len, s.len, "length of {i}, {lens:?} {offs:?}");
                    assert_eq!(ptr % 4096, s.page_offset_bytes, "offset of {i}");
                    assert!(ptr >= last_end, "{i} overlaps the one before");
                    assert_eq!(p.get(i).as_ptr() as usize, ptr, "get({i})");
                    last_end = ptr + 4 * len;
                }
                p.get_mut(2).fill(1.0);
                assert!(
                    p.get(1).iter().all(|&v| v == 0.0),
                    "writes stay in their array"
                );
            }
        }
    }
}
