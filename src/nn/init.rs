//! Weight and bias initialisations.

/// How a fresh network's parameters are drawn (mean 0; normal but for `Normalized` and
/// `Standard`).
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
    /// Glorot & Bengio's (2010) "normalized initialization", their equation 16: weights
    /// U[-sqrt(6/(fan_in + fan_out)), +sqrt(6/(fan_in + fan_out))] (the same variance as
    /// `Glorot`), biases 0.
    Normalized,
    /// Glorot & Bengio's (2010) "standard initialization", their equation 1: weights
    /// U[-1/sqrt(fan_in), +1/sqrt(fan_in)] (variance 1/(3 fan_in)), biases 0. The baseline
    /// under which they saw sigmoid networks' top hidden layer saturate.
    Standard,
}

/// The distribution one layer's weights are drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightDist {
    /// N(0, std^2).
    Normal { std: f32 },
    /// U[-limit, +limit).
    Uniform { limit: f32 },
}

impl Init {
    /// `(weight distribution, bias std)` for a layer (biases are always normal).
    pub fn dists(self, fan_in: usize, fan_out: usize) -> (WeightDist, f32) {
        let (fi, fo) = (fan_in as f32, fan_out as f32);
        let normal = |std: f32| WeightDist::Normal { std };
        match self {
            Init::Default => (normal(1.0 / fi.sqrt()), 1.0),
            Init::Large => (normal(1.0), 1.0),
            Init::Glorot => (normal((2.0 / (fi + fo)).sqrt()), 0.0),
            Init::He => (normal((2.0 / fi).sqrt()), 0.0),
            Init::Normalized => (
                WeightDist::Uniform {
                    limit: (6.0 / (fi + fo)).sqrt(),
                },
                0.0,
            ),
            Init::Standard => (
                WeightDist::Uniform {
                    limit: 1.0 / fi.sqrt(),
                },
                0.0,
            ),
        }
    }

    /// Lowercase name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Init::Default => "default",
            Init::Large => "large",
            Init::Glorot => "glorot",
            Init::He => "he",
            Init::Normalized => "normalized",
            Init::Standard => "standard",
        }
    }
}
