//! A microkernel alone, one whole packed tile after another: how fast the register-blocked loop
//! runs when nothing around it (packing, the driver's loops, misses outside L2) costs anything,
//! and what C's row stride alone costs it. `examples/c_stride.rs` prints the comparison.
//!
//! Measured on an AMD EPYC Zen 3 (family 25 model 1, KVM, 2 vCPUs, L1d 32 KiB 8-way): the AVX2
//! 6x16 kernel over 8 strips at kc = 256, C rows 16 floats apart (each tile's rows on
//! neighbouring lines): 99.1 GFLOP/s, the measured FMA peak; C rows 1024, 2048 or 4096 floats
//! apart: 91.6-92.9 GFLOP/s; 4112 floats apart: 98.8. At a power-of-two stride of 4 KiB or more
//! every C row of a tile column falls in one L1 set, so the tile's six C lines, the B
//! micro-panel's share of that set and the streamed A strip exceed its eight ways; the partial
//! sums each tile loads then come from L2. Without the loads (a first k block) the cost nearly
//! vanishes (98.0), and repeating one strip (its C lines stay in L1) gives 98.3. In the full
//! GEMM, keeping the partial sums off C's stride measured no faster (see the README).

use super::{GemmKernel, Tile};
use std::time::Instant;

/// What [`tile_loop`] runs.
#[derive(Clone, Copy, Debug)]
pub struct TileLoop {
    /// Depth of each tile (a kc block).
    pub kc: usize,
    /// Distinct A strips and C tiles (one tile column of a C block), visited in turn.
    pub strips: usize,
    /// Floats between C rows (at least the kernel's `nr`).
    pub c_row_stride: usize,
    /// Whether each tile starts from C's partial sums (a later k block) or from zero.
    pub load: bool,
    /// Microkernel calls to time.
    pub calls: usize,
}

/// One timed [`tile_loop`].
#[derive(Clone, Debug)]
pub struct TileLoopRun {
    /// Seconds the calls took.
    pub seconds: f64,
    /// The C buffer afterwards: `strips * mr` rows of `c_row_stride` floats (the first `nr` of
    /// each row are the tiles' cells).
    pub c: Vec<f32>,
}

/// Times `p.calls` full packed tiles of `kernel`, one B micro-panel and `p.strips` A strips and
/// C tiles in turn, as the driver visits one B micro-panel's column of C. Every A and B value
/// is 1/1024, so after `n` calls to a strip each of its cells holds `n*kc/2^20` exactly when
/// loading (from zero otherwise `kc/2^20`).
pub fn tile_loop(kernel: &GemmKernel, p: &TileLoop) -> TileLoopRun {
    let (mr, nr) = (kernel.mr, kernel.nr);
    let (kc, strips) = (p.kc.max(1), p.strips.max(1));
    let rs = p.c_row_stride.max(nr);
    // A power of two, so every product and partial sum is exact (tests check the cells).
    const V: f32 = 1.0 / 1024.0;
    let a = vec![V; mr * kc * strips];
    let b = vec![V; nr * kc];
    let mut c = vec![0.0f32; strips * mr * rs];
    let tile = |s: usize, c: &mut [f32]| Tile {
        k: kc,
        a: a[s * mr * kc..].as_ptr(),
        rsa: 1,
        csa: mr as isize,
        rows: mr,
        b: b.as_ptr(),
        rsb: nr as isize,
        b_full_rows: kc,
        cols: nr,
        c: c[s * mr * rs..].as_mut_ptr(),
        rsc: rs as isize,
        csc: 1,
        c_full_rows: false,
        load: p.load,
        finish: false,
        alpha: 1.0,
        beta: 0.0,
        c0: std::ptr::null(),
        rs0: rs as isize,
        cs0: 1,
        c0_full_rows: false,
    };
    let start = Instant::now();
    for call in 0..p.calls {
        let t = tile(call % strips, &mut c);
        // SAFETY: strip s's A panel holds mr*kc floats at s*mr*kc (packed, rsa 1, csa mr), B
        // holds kc rows of nr floats, and C tile s has mr rows of rs >= nr floats from s*mr*rs,
        // all inside their vectors; the tile is whole (rows mr, cols nr) and C overlaps
        // neither A nor B; `kernel` was chosen for a family this CPU has (GemmKernel's
        // constructors check it).
        unsafe { kernel.run(&t) };
    }
    let seconds = start.elapsed().as_secs_f64();
    TileLoopRun { seconds, c }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_loop_writes_exactly_its_tiles_sums() {
        for kernel in GemmKernel::available() {
            for (load, stride) in [(true, 1024), (false, 1024), (true, kernel.nr)] {
                let p = TileLoop {
                    kc: 8,
                    strips: 3,
                    c_row_stride: stride,
                    load,
                    calls: 6,
                };
                let run = tile_loop(&kernel, &p);
                // Two calls per strip: 16 products of 2^-20 with the partial sums loaded, 8
                // without.
                let want = if load { 16.0 } else { 8.0 } / (1 << 20) as f32;
                for (r, row) in run.c.chunks_exact(stride).enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        let expect = if j < kernel.nr { want } else { 0.0 };
                        assert_eq!(v, expect, "{} row {r} col {j} stride {stride}", kernel.name);
                    }
                }
                assert_eq!(run.c.len(), 3 * kernel.mr * stride);
            }
        }
    }
}
