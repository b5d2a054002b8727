//! Weight and bias initialisations.

/// How a fresh network's parameters are drawn (all normal, mean 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Init {
    /// The book's default: weights N(0, 1/fan_in), biases N(0, 1).
    Default,
    /// The book's "large" (chapter 1): weights and biases N(0, 1).
    Large,
    /// Glorot & Bengio (2010), normal form: weights N(0, 2/(fan_in + fan_out)), biases 0.
    Glorot,
    /// He et al. (2015): weights N(0, 2/fan_in), biases 0.
    He,
}

impl Init {
    /// `(weight std, bias std)` for a layer.
    pub fn std_devs(self, fan_in: usize, fan_out: usize) -> (f32, f32) {
        let fi = fan_in as f32;
        match self {
            Init::Default => (1.0 / fi.sqrt(), 1.0),
            Init::Large => (1.0, 1.0),
            Init::Glorot => ((2.0 / (fi + fan_out as f32)).sqrt(), 0.0),
            Init::He => ((2.0 / fi).sqrt(), 0.0),
        }
    }

    /// Lowercase name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Init::Default => "default",
            Init::Large => "large",
            Init::Glorot => "glorot",
            Init::He => "he",
        }
    }
}
