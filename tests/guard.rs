//! No kernel reads or writes outside its operands: every operand is placed flush against a
//! protected page (after it, and in a second pass before it), so a single element read past
//! either end faults and fails the test. Covers every GEMM microkernel of every family this CPU
//! runs (partial tiles in m and n, short k, packed and unpacked B, both layouts), and the
//! activation kernels on every length around the vector widths.

mod common;

#[cfg(target_os = "linux")]
mod guarded {
    use std::ffi::c_void;

    extern "C" {
        fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: i32,
            flags: i32,
            fd: i32,
            off: i64,
        ) -> *mut c_void;
        fn mprotect(addr: *mut c_void, len: usize, prot: i32) -> i32;
        fn munmap(addr: *mut c_void, len: usize) -> i32;
    }
    const PROT_NONE: i32 = 0;
    const PROT_READ_WRITE: i32 = 0x1 | 0x2;
    const MAP_PRIVATE_ANONYMOUS: i32 = 0x02 | 0x20;
    const PAGE: usize = 4096;

    /// `len` f32s in readable, writable pages with a protected page on each side, the slice
    /// placed flush against the end (or the start) of the writable pages.
    pub struct Guarded {
        base: *mut c_void,
        total: usize,
        data: *mut u8,
        /// Bytes.
        len: usize,
    }

    impl Guarded {
        pub fn new(len: usize, at_end: bool) -> Guarded {
            Guarded::bytes(len * 4, at_end)
        }

        /// `len` bytes, placed like [`Guarded::new`]'s floats.
        pub fn bytes(len: usize, at_end: bool) -> Guarded {
            let bytes = len.max(4);
            let inner = bytes.div_ceil(PAGE) * PAGE;
            let total = inner + 2 * PAGE;
            // SAFETY: an anonymous private mapping of `total` bytes, no address requested;
            // the result is checked before use.
            let base = unsafe {
                mmap(
                    std::ptr::null_mut(),
                    total,
                    PROT_READ_WRITE,
                    MAP_PRIVATE_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert!(base as isize != -1, "mmap failed");
            // SAFETY: the first and last page lie inside the mapping made above.
            unsafe {
                let first = base as *mut u8;
                assert_eq!(mprotect(first as *mut c_void, PAGE, PROT_NONE), 0);
                assert_eq!(
                    mprotect(first.add(PAGE + inner) as *mut c_void, PAGE, PROT_NONE),
                    0
                );
            }
            let offset = if at_end { PAGE + inner - len } else { PAGE };
            // SAFETY: `offset + len <= PAGE + inner`, inside the writable pages.
            let data = unsafe { (base as *mut u8).add(offset) };
            Guarded {
                base,
                total,
                data,
                len,
            }
        }

        /// The floats of a [`Guarded::new`] buffer.
        pub fn slice(&mut self) -> &mut [f32] {
            assert!(self.len.is_multiple_of(4), "a buffer of whole floats");
            // SAFETY: `data..data+len` lies in the writable pages, zero-filled by mmap, and is
            // borrowed mutably through `self` only; f32 alignment holds because the page and
            // the offset from its end (a whole number of floats) are multiples of 4.
            unsafe { std::slice::from_raw_parts_mut(self.data.cast::<f32>(), self.len / 4) }
        }

        /// The bytes of a [`Guarded::bytes`] buffer.
        pub fn byte_slice(&mut self) -> &mut [u8] {
            // SAFETY: as `slice`, for bytes (no alignment needed).
            unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
        }
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            // SAFETY: unmaps exactly the mapping made in `new`; no slice outlives `self`.
            unsafe {
                munmap(self.base, self.total);
            }
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn gemm_kernels_stay_inside_their_operands() {
    use guarded::Guarded;
    use vanishing::gemm::{Gemm, MatMut, MatRef};
    let mut cases = 0usize;
    for kern in common::gemm_kernels() {
        let g = Gemm::with_kernel(kern).threads(1);
        let (mr, nr) = g.tile();
        let ms = [1, mr - 1, mr + 1, 2 * mr + 3];
        let ns = [1, 3, nr - 1, nr + 1, 2 * nr + 5];
        for &m in &ms {
            for &n in &ns {
                // Depth 33: two whole 16-column blocks and a ragged column of a panel packer
                // (the AVX-512 12-row one reads A's rows 16 floats at a time).
                for k in [1, 2, 7, 33] {
                    // Row-major A (m x k) and B (k x n), and their transposes (column-major).
                    for transposed in [false, true] {
                        for at_end in [true, false] {
                            let mut a = Guarded::new(m * k, at_end);
                            let mut b = Guarded::new(k * n, at_end);
                            let mut c = Guarded::new(m * n, at_end);
                            for (i, v) in a.slice().iter_mut().enumerate() {
                                *v = (i % 7) as f32 - 3.0;
                            }
                            for (i, v) in b.slice().iter_mut().enumerate() {
                                *v = (i % 5) as f32 - 2.0;
                            }
                            let (ars, acs, brs, bcs) = if transposed {
                                (1, m, 1, k)
                            } else {
                                (k, 1, n, 1)
                            };
                            let want: Vec<f32> = (0..m * n)
                                .map(|ij| {
                                    let (i, j) = (ij / n, ij % n);
                                    (0..k)
                                        .map(|p| {
                                            a.slice()[i * ars + p * acs]
                                                * b.slice()[p * brs + j * bcs]
                                        })
                                        .sum()
                                })
                                .collect();
                            let av = MatRef::new(a.slice(), m, k, ars, acs).unwrap();
                            let bv = MatRef::new(b.slice(), k, n, brs, bcs).unwrap();
                            let cv = MatMut::new(c.slice(), m, n, n, 1).unwrap();
                            g.gemm(1.0, av, bv, 0.0, cv).unwrap();
                            // Small integers: every product and sum is exact in f32.
                            assert_eq!(c.slice(), &want[..], "{} m {m} n {n} k {k}", kern.name);
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    println!("{cases} guarded GEMM cases");
}

/// The rank-k update kernels (X^T read by columns, D and W by rows, depth up to 16) on guarded
/// operands: W's ragged last chunk must be read and written through its masks only.
#[cfg(target_os = "linux")]
#[test]
fn rank_k_kernels_stay_inside_their_operands() {
    use guarded::Guarded;
    use vanishing::gemm::{Gemm, MatMut, MatRef};
    let mut cases = 0usize;
    for isa in common::families() {
        let g = Gemm::with_isa(isa).threads(1);
        for m in [1, 3, 17] {
            for n in [1usize, 3, 7, 9, 17, 30, 33, 100, 130] {
                for k in [1, 2, 10, 16] {
                    for beta in [0.0f32, 0.5] {
                        for at_end in [true, false] {
                            // beta != 0 reaches the rank-k kernel on rows a line apart
                            // (the small-batch layout); W's last row ends flush on the page.
                            let rs = if beta == 0.0 { n } else { n.div_ceil(16) * 16 };
                            let wlen = (m - 1) * rs + n;
                            let mut x = Guarded::new(k * m, at_end);
                            let mut d = Guarded::new(k * n, at_end);
                            let mut w = Guarded::new(wlen, at_end);
                            for (i, v) in x.slice().iter_mut().enumerate() {
                                *v = (i % 7) as f32 - 3.0;
                            }
                            for (i, v) in d.slice().iter_mut().enumerate() {
                                *v = (i % 5) as f32 - 2.0;
                            }
                            for (i, v) in w.slice().iter_mut().enumerate() {
                                *v = (i % 3) as f32;
                            }
                            let mut want = w.slice().to_vec();
                            for i in 0..m {
                                for j in 0..n {
                                    let s: f32 = (0..k)
                                        .map(|p| x.slice()[p * m + i] * d.slice()[p * n + j])
                                        .sum();
                                    want[i * rs + j] = s + beta * want[i * rs + j];
                                }
                            }
                            let xv = MatRef::row_major(x.slice(), k, m).unwrap().t();
                            let dv = MatRef::row_major(d.slice(), k, n).unwrap();
                            let wv = MatMut::new(w.slice(), m, n, rs, 1).unwrap();
                            g.gemm(1.0, xv, dv, beta, wv).unwrap();
                            // Small integers and halves: every product and sum is exact; the
                            // gaps between rows keep their values.
                            assert_eq!(w.slice(), &want[..], "{isa:?} m {m} n {n} k {k}");
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    println!("{cases} guarded rank-k cases");
}

/// The sparse-depth kernels (the first-layer forward over a batch's live pixel positions) on
/// guarded operands, called directly: A's last row, B's last row and C's last row end flush
/// on a protected page (or start right after one), and every third depth position is blank.
#[cfg(target_os = "linux")]
#[test]
fn sparse_depth_kernels_stay_inside_their_operands() {
    use guarded::Guarded;
    use vanishing::kernels::sparse_depth::SparseDepth;
    use vanishing::kernels::SparseDepthKernel;
    let mut cases = 0usize;
    for isa in common::families() {
        let kernel = SparseDepthKernel::for_isa(isa);
        for m in [1, 3, 10, 16] {
            for k in [1, 5, 64, 65, 200] {
                for n in [16usize, 32, 48, 112] {
                    for at_end in [true, false] {
                        let mut a = Guarded::new(m * k, at_end);
                        let mut b = Guarded::new(k * n, at_end);
                        let mut c = Guarded::new(m * n, at_end);
                        for (q, v) in a.slice().iter_mut().enumerate() {
                            let p = q % k;
                            *v = if p % 3 == 0 {
                                0.0
                            } else {
                                (q % 7) as f32 - 3.0
                            };
                        }
                        for (q, v) in b.slice().iter_mut().enumerate() {
                            *v = (q % 5) as f32 - 2.0;
                        }
                        let mut zero = vec![0u64; k.div_ceil(64)];
                        for p in (0..k).step_by(3) {
                            zero[p / 64] |= 1 << (p % 64);
                        }
                        let mut want = vec![0.0f32; m * n];
                        for i in 0..m {
                            for j in 0..n {
                                want[i * n + j] = (0..k)
                                    .map(|p| a.slice()[i * k + p] * b.slice()[p * n + j])
                                    .sum();
                            }
                        }
                        let t = SparseDepth {
                            m,
                            k,
                            n,
                            a: a.slice().as_ptr(),
                            rsa: k as isize,
                            b: b.slice().as_ptr(),
                            rsb: n as isize,
                            c: c.slice().as_mut_ptr(),
                            rsc: n as isize,
                            alpha: 1.0,
                            zero: zero.as_ptr(),
                        };
                        // SAFETY: the three operands are m x k, k x n and m x n row-major
                        // in their guarded buffers, distinct; m <= 16, n a multiple of 16; the
                        // map marks only columns of A that are zero in every row; the family
                        // is available (common::families).
                        unsafe { kernel.run(&t) };
                        // Small integers: every product and sum is exact.
                        assert_eq!(c.slice(), &want[..], "{isa:?} m {m} k {k} n {n}");
                        cases += 1;
                    }
                }
            }
        }
    }
    println!("{cases} guarded sparse-depth cases");
}

#[cfg(target_os = "linux")]
#[test]
fn activation_kernels_stay_inside_their_operands() {
    use guarded::Guarded;
    use vanishing::activation::{Activation, ActivationKernels, ElementFn};
    for isa in common::families() {
        let kernels = ActivationKernels::for_isa(isa);
        let scalar = ActivationKernels::for_isa(vanishing::isa::Isa::Scalar);
        for len in 0..=70 {
            for at_end in [true, false] {
                let mut x = Guarded::new(len, at_end);
                for (i, v) in x.slice().iter_mut().enumerate() {
                    *v = i as f32 * 0.25 - 8.0;
                }
                let xs = x.slice().to_vec();
                for f in ElementFn::ALL {
                    let mut y = Guarded::new(len, at_end);
                    kernels.apply(f, x.slice(), y.slice());
                    let mut want = vec![0.0; len];
                    scalar.apply(f, &xs, &mut want);
                    assert_eq!(y.slice(), &want[..], "{isa:?} {f:?} len {len}");
                }
                // Contiguous rows shorter than a vector, several of them (one flat array
                // with its bias repeated, and a lane-limited end).
                if (1..=17).contains(&len) {
                    for rows in [2, 3, 7] {
                        let mut z = Guarded::new(rows * len, at_end);
                        let mut bias = Guarded::new(len, at_end);
                        let mut d = Guarded::new(rows * len, at_end);
                        let z0: Vec<f32> =
                            (0..rows * len).map(|i| i as f32 * 0.125 - 3.0).collect();
                        z.slice().copy_from_slice(&z0);
                        bias.slice().fill(0.25);
                        kernels
                            .bias_activation(
                                Activation::Sigmoid,
                                z.slice(),
                                bias.slice(),
                                d.slice(),
                            )
                            .unwrap();
                        let (mut zw, mut dw) = (z0.clone(), vec![0.0; rows * len]);
                        scalar
                            .bias_activation(
                                Activation::Sigmoid,
                                &mut zw,
                                &vec![0.25; len],
                                &mut dw,
                            )
                            .unwrap();
                        assert_eq!(z.slice(), &zw[..], "{isa:?} {rows} rows of {len}");
                        assert_eq!(d.slice(), &dw[..], "{isa:?} {rows} rows of {len}");
                    }
                }
                // The fused pass, one row of `len` with a guarded bias and derivative.
                if len > 0 {
                    for act in [
                        Activation::Sigmoid,
                        Activation::Tanh,
                        Activation::Relu,
                        Activation::Softsign,
                    ] {
                        let mut z = Guarded::new(len, at_end);
                        let mut bias = Guarded::new(len, at_end);
                        let mut d = Guarded::new(len, at_end);
                        z.slice().copy_from_slice(&xs);
                        bias.slice().fill(0.5);
                        kernels
                            .bias_activation(act, z.slice(), bias.slice(), d.slice())
                            .unwrap();
                        let (mut zw, mut dw) = (xs.clone(), vec![0.0; len]);
                        scalar
                            .bias_activation(act, &mut zw, &vec![0.5; len], &mut dw)
                            .unwrap();
                        assert_eq!(z.slice(), &zw[..], "{isa:?} {act:?} len {len}");
                        assert_eq!(d.slice(), &dw[..], "{isa:?} {act:?} len {len}");
                    }
                }
            }
        }
    }
}

/// The batch gather from byte rows: every row and the float destination flush against a
/// protected page, on widths around the 64-byte chunk of the fused AVX-512 pass (whose ragged
/// tail reads the last 64 bytes of a row).
#[cfg(target_os = "linux")]
#[test]
fn gather_rows_kernels_stay_inside_their_operands() {
    use guarded::Guarded;
    use vanishing::activation::ActivationKernels;
    use vanishing::kernels::GatherRows;
    for isa in common::families() {
        let kernels = ActivationKernels::for_isa(isa);
        for width in [1, 16, 63, 64, 65, 100, 127, 128, 129, 784] {
            for nrows in [1, 3] {
                for at_end in [true, false] {
                    let mut rows: Vec<Guarded> =
                        (0..nrows).map(|_| Guarded::bytes(width, at_end)).collect();
                    for (r, row) in rows.iter_mut().enumerate() {
                        for (i, b) in row.byte_slice().iter_mut().enumerate() {
                            *b = ((i * 7 + r) % 5 * 60) as u8;
                        }
                    }
                    let want: Vec<f32> = rows
                        .iter_mut()
                        .flat_map(|row| row.byte_slice().to_vec())
                        .map(|b| b as f32 / 256.0)
                        .collect();
                    let mut dst = Guarded::new(nrows * width, at_end);
                    let slices: Vec<&[u8]> =
                        rows.iter_mut().map(|row| &*row.byte_slice()).collect();
                    for expect_blank in [false, true] {
                        let mut map = vec![0u64; width.div_ceil(64)];
                        kernels.gather_rows(GatherRows {
                            rows: &slices,
                            width,
                            scale: 1.0 / 256.0,
                            dst: dst.slice(),
                            zero_map: Some(&mut map),
                            expect_blank,
                        });
                        assert_eq!(dst.slice(), &want[..], "{isa:?} width {width} rows {nrows}");
                    }
                }
            }
        }
    }
}

/// The fused error pass: the error rows, the activations, the derivatives, the sums and the
/// bias each flush against a protected page, over column counts around every vector width
/// (the lane-limited last vector must not reach past the row); the results equal the scalar
/// family's.
#[cfg(target_os = "linux")]
#[test]
fn error_rows_kernels_stay_inside_their_operands() {
    use guarded::Guarded;
    use vanishing::activation::{ActivationKernels, ErrorRows, LayerError};
    let scalar = ActivationKernels::for_isa(vanishing::isa::Isa::Scalar);
    for isa in common::families() {
        let kernels = ActivationKernels::for_isa(isa);
        for cols in 1..=33 {
            for rows in [1, 3] {
                for at_end in [true, false] {
                    for kind in 0..3 {
                        let len = rows * cols;
                        let values = |seed: usize| -> Vec<f32> {
                            (0..len)
                                .map(|i| ((i * 7 + seed) % 13) as f32 * 0.25 - 1.5)
                                .collect()
                        };
                        let labels: Vec<u8> = (0..rows).map(|r| ((r * 5) % cols) as u8).collect();
                        let run = |k: &ActivationKernels| -> Vec<f32> {
                            let mut a = Guarded::new(len, at_end);
                            let mut deriv = Guarded::new(len, at_end);
                            let mut delta = Guarded::new(len, at_end);
                            let mut sums = Guarded::new(cols, at_end);
                            let mut bias = Guarded::new(cols, at_end);
                            a.slice().copy_from_slice(&values(1));
                            deriv.slice().copy_from_slice(&values(2));
                            delta.slice().copy_from_slice(&values(3));
                            bias.slice().fill(0.5);
                            let a = &*a.slice();
                            let error = match kind {
                                0 | 1 => LayerError::Output {
                                    a,
                                    labels: &labels,
                                    times_deriv: kind == 1,
                                },
                                _ => LayerError::Hidden,
                            };
                            k.error_rows(ErrorRows {
                                error,
                                delta: delta.slice(),
                                deriv: deriv.slice(),
                                rows,
                                cols,
                                stride: cols,
                                sums: sums.slice(),
                                bias: Some((bias.slice(), 0.125)),
                            })
                            .unwrap();
                            [delta.slice(), sums.slice(), bias.slice()].concat()
                        };
                        assert_eq!(
                            run(&kernels),
                            run(&scalar),
                            "{isa:?} kind {kind} rows {rows} cols {cols}"
                        );
                    }
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn guard_pages_need_linux() {
    println!("skipped: guard-page tests use Linux mmap/mprotect");
}
