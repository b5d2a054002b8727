//! Constants shared by every ISA's activation kernels. The method is described once, in
//! [`crate::activation`]; each ISA file implements it with these exact constants.

/// log2(e), to turn `exp(z)` into `2^(z*log2(e))`.
pub const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `1.5 * 2^23 + 127`: adding it to a float in (-2^22, 2^22) rounds to the nearest integer n
/// (ties to even) and leaves `n + 127` (the biased exponent of 2^n) in the low mantissa bits, so
/// shifting the bits left by 23 gives 2^n directly; subtracting it back gives n as a float.
pub const ROUND_MAGIC: f32 = 12_583_039.0;
/// ln(2) split in two (Cody-Waite): `LN2_HI` ends in zero bits so `n * LN2_HI` is exact for the
/// |n| <= 128 used here, and `LN2_LO` carries the rest, so `z - n*ln2` loses no accuracy.
pub const LN2_HI: f32 = f32::from_bits(0x3F317200); // 0x1.62E400p-1
pub const LN2_LO: f32 = f32::from_bits(0x35BFBE8E); // 0x1.7F7D1Cp-20
/// Coefficients of `exp(t) ~ 1 + t*(C1 + t*(C2 + t*(C3 + t*(C4 + t*C5))))` on |t| <= ln(2)/2:
/// the published degree-5 minimax fit (as in XNNPACK's `p5` kernels), about 1 ULP there.
pub const EXP_C1: f32 = f32::from_bits(0x3F7FFFFB); // 0x1.FFFFF6p-1
pub const EXP_C2: f32 = f32::from_bits(0x3EFFFEE3); // 0x1.FFFDC6p-2
pub const EXP_C3: f32 = f32::from_bits(0x3E2AAD40); // 0x1.555A80p-3
pub const EXP_C4: f32 = f32::from_bits(0x3D2B9D0D); // 0x1.573A1Ap-5
pub const EXP_C5: f32 = f32::from_bits(0x3C07CFCE); // 0x1.0F9F9Cp-7
/// ln(2^-126): below it `exp(z)` (and so sigma(z)) is subnormal; results there flush to zero.
pub const EXP_MIN_NORMAL_ARG: f32 = -87.336_54;
/// Below this |x|, tanh uses its odd polynomial (no cancellation in 1 - e^-2|x|).
pub const TANH_SMALL: f32 = 0.625;
/// `tanh(x) ~ x + x^3*(T4 + x^2*(T3 + x^2*(T2 + x^2*(T1 + x^2*T0))))` for |x| < 0.625 (Cephes
/// `tanhf`).
pub const TANH_T0: f32 = -5.704_988_7e-3;
pub const TANH_T1: f32 = 2.063_909e-2;
pub const TANH_T2: f32 = -5.373_971_6e-2;
pub const TANH_T3: f32 = 1.333_144_2e-1;
pub const TANH_T4: f32 = -3.333_328e-1;

/// An element-wise function the kernels implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[repr(u8)]
pub enum ElementFn {
    Sigmoid,
    /// sigma'(z) = s(1-s) with s = sigma(-|z|).
    SigmoidPrime,
    Tanh,
    /// tanh'(z) = 4e/(1+e)^2 with e = exp(-2|z|).
    TanhPrime,
    Relu,
    /// 1 for z > 0, else 0.
    ReluPrime,
    /// Softsign, z / (1 + |z|) (Glorot and Bengio, 2010), with +-1 at +-infinity.
    Softsign,
    /// softsign'(z) = 1 / (1 + |z|)^2, computed as t*t with t = 1 / (1 + |z|).
    SoftsignPrime,
}

impl ElementFn {
    /// Every function, indexed by its discriminant.
    pub const ALL: [ElementFn; 8] = [
        ElementFn::Sigmoid,
        ElementFn::SigmoidPrime,
        ElementFn::Tanh,
        ElementFn::TanhPrime,
        ElementFn::Relu,
        ElementFn::ReluPrime,
        ElementFn::Softsign,
        ElementFn::SoftsignPrime,
    ];
}

/// The activation of a layer, for the fused bias + activation pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Softsign,
}

impl Activation {
    /// The element function computing the activation.
    pub fn value_fn(self) -> ElementFn {
        match self {
            Activation::Sigmoid => ElementFn::Sigmoid,
            Activation::Tanh => ElementFn::Tanh,
            Activation::Relu => ElementFn::Relu,
            Activation::Softsign => ElementFn::Softsign,
        }
    }
    /// The element function computing its derivative from the pre-activation.
    pub fn derivative_fn(self) -> ElementFn {
        match self {
            Activation::Sigmoid => ElementFn::SigmoidPrime,
            Activation::Tanh => ElementFn::TanhPrime,
            Activation::Relu => ElementFn::ReluPrime,
            Activation::Softsign => ElementFn::SoftsignPrime,
        }
    }
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Softsign => "softsign",
        }
    }
}
