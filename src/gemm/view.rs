//! Borrowed strided matrix views, validated on construction.

use crate::error::{Error, Result};

/// Number of elements a `rows x cols` view with strides `(rs, cs)` reaches (0 if empty).
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

fn check_fits(
    name: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<()> {
    match extent(rows, cols, rs, cs) {
        Some(needed) if needed <= len => Ok(()),
        needed => Err(Error::BufferTooSmall {
            name,
            rows,
            cols,
            rs,
            cs,
            needed: needed.unwrap_or(usize::MAX),
            len,
        }),
    }
}

/// Whether every cell of the view maps to its own element.
fn cells_distinct(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows <= 1 && cols <= 1 {
        return true;
    }
    if rows <= 1 {
        return cs > 0;
    }
    if cols <= 1 {
        return rs > 0;
    }
    // One stride must step over the whole run of the other.
    let (small, small_n, big) = if rs <= cs {
        (rs, rows, cs)
    } else {
        (cs, cols, rs)
    };
    small > 0 && small.checked_mul(small_n).is_some_and(|span| big >= span)
}

/// A read-only `rows x cols` view: element `(i, j)` is `data[i*rs + j*cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A view with explicit strides; errors if it reaches past the slice.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        check_fits("matrix view", data.len(), rows, cols, rs, cs)?;
        Ok(MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A dense row-major view (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        MatRef::new(data, rows, cols, cols, 1)
    }

    /// A dense column-major view (`rs = 1`, `cs = rows`).
    pub fn col_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        MatRef::new(data, rows, cols, 1, rows)
    }

    /// The transposed view (no copy).
    pub fn t(self) -> MatRef<'a> {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// `(row stride, column stride)` in elements.
    pub fn strides(&self) -> (usize, usize) {
        (self.rs, self.cs)
    }
    /// Element `(i, j)`; panics when out of range, like slice indexing.
    pub fn at(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of a {}x{} view",
            self.rows,
            self.cols
        );
        self.data[i * self.rs + j * self.cs]
    }
    pub(crate) fn as_ptr(&self) -> *const f32 {
        self.data.as_ptr()
    }
}

/// A mutable `rows x cols` view whose cells are distinct elements of the slice.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatMut<'a> {
    /// A view with explicit strides; errors if it reaches past the slice or if two cells would
    /// share an element.
    pub fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self> {
        check_fits("output view", data.len(), rows, cols, rs, cs)?;
        if !cells_distinct(rows, cols, rs, cs) {
            return Err(Error::OverlappingView {
                name: "output view",
                rows,
                cols,
                rs,
                cs,
            });
        }
        Ok(MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A dense row-major view.
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        MatMut::new(data, rows, cols, cols, 1)
    }

    /// A dense column-major view.
    pub fn col_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        MatMut::new(data, rows, cols, 1, rows)
    }

    /// The transposed view (no copy).
    pub fn t(self) -> MatMut<'a> {
        MatMut {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            data: self.data,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// `(row stride, column stride)` in elements.
    pub fn strides(&self) -> (usize, usize) {
        (self.rs, self.cs)
    }
    pub(crate) fn into_mut_ptr(self) -> *mut f32 {
        self.data.as_mut_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinctness() {
        assert!(cells_distinct(3, 4, 4, 1));
        assert!(cells_distinct(3, 4, 1, 3));
        assert!(!cells_distinct(3, 4, 2, 1));
        assert!(!cells_distinct(3, 4, 0, 1));
        assert!(cells_distinct(1, 4, 0, 1));
        assert!(!cells_distinct(1, 4, 0, 0));
        assert!(cells_distinct(3, 4, 5, 1));
    }

    #[test]
    fn extents() {
        assert_eq!(extent(0, 5, 5, 1), Some(0));
        assert_eq!(extent(2, 3, 3, 1), Some(6));
        assert_eq!(extent(2, 3, 1, 2), Some(6));
        assert_eq!(extent(usize::MAX, 2, usize::MAX, 1), None);
    }
}
