//! Data sets: a labelled dataset of byte-valued features ([`Dataset`], three [`Splits`]), which
//! is all the trainer reads, and the MNIST-format IDX loader that fills one.

pub mod mnist;

/// From a feature byte to its value, as the book scales MNIST pixels: byte/256 (exact in f32).
pub const PIXEL_SCALE: f32 = 1.0 / 256.0;

/// Examples and labels of one split. Features are row-major `len x features` bytes, valued
/// `byte * PIXEL_SCALE` in [0, 1). Only the bytes are kept: an f32 copy of every image would be
/// 4x the memory (about 220 MB for MNIST) and most of the page faults of a whole training run,
/// while batches are converted on the way into the network's input buffer anyway.
///
/// The bytes of a large set sit on large pages where the OS allows it
/// ([`crate::kernels::pages`]): the trainer reads images at random places.
#[derive(Debug, PartialEq)]
pub struct Dataset {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    /// Features per example (784 for 28x28 images).
    pub features: usize,
    /// Number of classes; every label is below it.
    pub classes: usize,
}

impl Clone for Dataset {
    fn clone(&self) -> Dataset {
        Dataset::from_bytes(
            &self.pixels,
            self.labels.clone(),
            self.features,
            self.classes,
        )
    }
}

impl Dataset {
    /// A dataset from row-major feature bytes and one label per row.
    pub fn from_bytes(pixels: &[u8], labels: Vec<u8>, features: usize, classes: usize) -> Dataset {
        debug_assert_eq!(pixels.len(), labels.len() * features);
        Dataset {
            pixels: crate::kernels::pages::large_page_copy(pixels),
            labels,
            features,
            classes,
        }
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Example `i`'s feature values.
    pub fn image(&self, i: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.features];
        self.images_into(i..i + 1, &mut out);
        out
    }
    /// The values of examples `rows`, one after another, into the start of `out` (which must
    /// hold `rows.len() * features` of them).
    pub fn images_into(&self, rows: std::ops::Range<usize>, out: &mut [f32]) {
        let bytes = &self.pixels[rows.start * self.features..rows.end * self.features];
        for (o, &b) in out[..bytes.len()].iter_mut().zip(bytes) {
            *o = b as f32 * PIXEL_SCALE;
        }
    }
    /// The first `n` examples (or all, if fewer).
    pub fn head(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            pixels: crate::kernels::pages::large_page_copy(&self.pixels[..n * self.features]),
            labels: self.labels[..n].to_vec(),
            ..*self
        }
    }
}

/// Training, validation and test splits of one dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Dataset,
}
