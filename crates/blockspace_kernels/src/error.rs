//! The kernel crate's error type.

use thiserror::Error;

/// Everything that can go wrong in a kernel call.
///
/// The `Display` text of every validation variant is TensorFlow's own message for the same
/// problem (so users can compare with TensorFlow, and conformance checks can match it);
/// [`KernelError::hint`] adds how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The `strides` attribute has fewer than 5 entries (op-definition check).
    #[error("Length for attr 'strides' of {len} must be at least minimum 5")]
    StridesTooShort {
        /// Length that was given.
        len: usize,
    },
    /// The `padding` attribute is not `SAME` or `VALID`.
    #[error(
        "Value for attr 'padding' of \"{value}\" is not in the list of allowed values: \"SAME\", \"VALID\""
    )]
    InvalidPadding {
        /// The value that was given.
        value: String,
    },
    /// The `data_format` attribute is not `NDHWC` or `NCDHW`.
    #[error(
        "Value for attr 'data_format' of \"{value}\" is not in the list of allowed values: \"NDHWC\", \"NCDHW\""
    )]
    InvalidDataFormat {
        /// The value that was given.
        value: String,
    },
    /// `dilations` does not have exactly 5 entries.
    #[error("Dilation rates field must specify 5 dimensions")]
    DilationsLength {
        /// Length that was given.
        len: usize,
    },
    /// A dilation in the batch or channel dimension is not 1.
    #[error(
        "Current implementation does not yet support dilation rates in the batch and depth dimensions."
    )]
    DilationInBatchOrChannel {
        /// The whole `dilations` attribute.
        dilations: Vec<i64>,
    },
    /// A spatial dilation of a gradient op is zero or negative. TensorFlow's CPU kernels of
    /// both gradients refuse every spatial dilation other than 1 with this text; dilations above
    /// 1 run here (as on TensorFlow's oneDNN and GPU kernels), so only those below 1 get it.
    #[error("Current CPU implementation does not yet support dilation rates larger than 1.")]
    GradientDilationNotPositive {
        /// The whole `dilations` attribute.
        dilations: Vec<i64>,
    },
    /// `strides` does not have exactly 5 entries.
    #[error("Sliding window strides field must specify 5 dimensions")]
    StridesLength {
        /// Length that was given.
        len: usize,
    },
    /// A stride in the batch or channel dimension is not 1.
    #[error(
        "Current implementation does not yet support strides in the batch and depth dimensions."
    )]
    StrideInBatchOrChannel {
        /// The whole `strides` attribute.
        strides: Vec<i64>,
    },
    /// `input_sizes` is not a rank-1 tensor.
    #[error("shape must be a vector of {{int32,int64}}, got shape {}", fmt_dims(.shape))]
    InputSizesNotVector {
        /// Shape of the `input_sizes` operand.
        shape: Vec<usize>,
    },
    /// `input_sizes` has more than 254 entries.
    #[error("Too many dimensions")]
    TooManyDimensions {
        /// Number of entries.
        len: usize,
    },
    /// An entry of `input_sizes` is negative.
    #[error("Dimension {value} must be >= 0")]
    NegativeDimension {
        /// The negative entry.
        value: i64,
    },
    /// The product of `input_sizes` exceeds `2^63 - 1`.
    #[error("Shape {} would have more than 2**63 - 1 elements", fmt_shape_proto(.dims))]
    ShapeOverflow {
        /// The `input_sizes` values.
        dims: Vec<i64>,
    },
    /// `input_sizes` does not have 5 entries.
    #[error("input tensor must have 5 dimensions")]
    InputRank {
        /// Number of entries given.
        rank: usize,
    },
    /// `filter` is not rank 5.
    #[error("filter_sizes tensor must have 5 dimensions")]
    FilterRank {
        /// Shape of the filter.
        shape: Vec<usize>,
    },
    /// `out_backprop` is not rank 5.
    #[error("out_backprop tensor must have 5 dimensions")]
    OutBackpropRank {
        /// Shape of `out_backprop`.
        shape: Vec<usize>,
    },
    /// Input channels differ between `input_sizes` and `filter`.
    #[error(
        "input and filter_sizes must have the same number of channels. Got {input} for input and {filter} for filter_sizes"
    )]
    InputChannelMismatch {
        /// Channels in `input_sizes`.
        input: i64,
        /// `filter` dimension 3.
        filter: usize,
    },
    /// Output channels differ between `out_backprop` and `filter`.
    #[error(
        "out_backprop and filter_sizes must have the same number of channels. Got {out_backprop} for out_backprop and {filter} for filter_sizes"
    )]
    OutputChannelMismatch {
        /// Channels in `out_backprop`.
        out_backprop: usize,
        /// `filter` dimension 4.
        filter: usize,
    },
    /// Batch sizes differ between `input_sizes` (or `input`) and `out_backprop`.
    #[error(
        "{op}: input and out_backprop must have the same batch size. Input batch: {input}, outbackprop batch: {out_backprop}, batch_dim: 0"
    )]
    BatchMismatch {
        /// TensorFlow's label for the op (`Conv3DBackpropInputOp`, `Conv3DBackpropFilterOp`).
        op: &'static str,
        /// Batch in `input_sizes` (or `input`).
        input: i64,
        /// Batch in `out_backprop`.
        out_backprop: usize,
    },
    /// The filter has zero input channels.
    #[error("Conv3DBackpropInputOp: filter depth must be strictly greated than zero")]
    FilterDepthZero,
    /// A spatial stride is zero or negative.
    #[error("Stride must be > 0, but got {stride}")]
    StrideNotPositive {
        /// The stride.
        stride: i64,
    },
    /// A spatial dilation is zero or negative.
    #[error("Dilation rate must be >= 1, but got {dilation}")]
    DilationNotPositive {
        /// The dilation.
        dilation: i64,
    },
    /// The VALID output size of a spatial dimension would be negative.
    #[error(
        "Computed output size would be negative: {output} [input_size: {input_size}, effective_filter_size: {effective_filter_size}, stride: {stride}]"
    )]
    NegativeOutputSize {
        /// The computed (negative) size.
        output: i64,
        /// Input size along that dimension.
        input_size: i64,
        /// `(k - 1) * dilation + 1`.
        effective_filter_size: i64,
        /// Stride along that dimension.
        stride: i64,
    },
    /// `out_backprop`'s spatial size differs from the size the forward convolution would give.
    #[error(
        "{op}: Size of out_backprop doesn't match computed: actual = {actual}, computed = {computed} spatial_dim: {spatial_dim} input: {input} filter: {filter} output: {actual} stride: {stride} dilation: {dilation}"
    )]
    OutBackpropSizeMismatch {
        /// TensorFlow's label for the op (`Conv3DBackpropInputOp`, `Conv3DBackpropFilterOp`).
        op: &'static str,
        /// `out_backprop`'s size along the dimension.
        actual: usize,
        /// What the forward convolution gives.
        computed: i64,
        /// Tensor dimension index in NDHWC order (1 = depth, 2 = height, 3 = width).
        spatial_dim: usize,
        /// Input size along the dimension.
        input: i64,
        /// Filter size along the dimension (dilated size, as in TensorFlow's dilated-filter equivalent).
        filter: i64,
        /// Stride.
        stride: i64,
        /// Dilation (always 1: the dilation is folded into `filter`, as TensorFlow reports it).
        dilation: i64,
    },
    /// TensorFlow's rule that the work is not empty (CVE-2021-29522 fix).
    #[error("input, filter_sizes and out_backprop tensors must all have at least 1 element")]
    EmptyWork,
    /// An intermediate size does not fit in 64 bits.
    #[error("{what} overflows 64-bit arithmetic; use smaller sizes or strides")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A buffer would exceed the configured memory limit.
    #[error(
        "{what} would need {bytes} bytes ({elements} elements), over the memory limit of {limit} bytes; use smaller shapes or raise the limit"
    )]
    TooLarge {
        /// Which buffer.
        what: &'static str,
        /// Element count.
        elements: u64,
        /// Bytes needed (saturating).
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A buffer would take the run's live total over its memory budget
    /// ([`crate::MemoryLedger`]).
    #[error(
        "{what} would need {bytes} bytes while {live} bytes are held already (kept results, of every open page in the app, and buffers of blocks running now), over the memory budget of {budget} bytes; use smaller shapes, close pages whose results you do not need, or raise the memory limit"
    )]
    OverBudget {
        /// Which buffer.
        what: &'static str,
        /// Bytes it needs.
        bytes: u64,
        /// Bytes held (in the ledger) when it asked.
        live: u64,
        /// The run's budget in bytes.
        budget: u64,
    },
    /// The call was cancelled through its [`crate::CancelToken`].
    #[error("cancelled")]
    Cancelled,
    // Arithmetic and reductions.
    /// Two operands of an elementwise op do not broadcast (TensorFlow's `BCast`).
    #[error("Incompatible shapes: {} vs. {}", fmt_dims(.x), fmt_dims(.y))]
    IncompatibleShapes {
        /// Shape of `x`.
        x: Vec<usize>,
        /// Shape of `y`.
        y: Vec<usize>,
    },
    /// A reduction axis is outside `[-rank, rank)` (TensorFlow's text, unbalanced bracket and all).
    #[error("Invalid reduction dimension ({index} for input with {rank} dimension(s)")]
    InvalidReductionDimension {
        /// The axis as given.
        index: i64,
        /// The input's rank.
        rank: usize,
    },
    /// The same axis is named twice (after counting negative axes from the end).
    #[error("Invalid reduction arguments: Axes contains duplicate dimension: {index}")]
    DuplicateReductionAxis {
        /// The repeated axis, normalised to `0..rank`.
        index: usize,
    },
    // Conv3D
    /// A spatial stride of `Conv3D` is zero or negative.
    #[error("Spatial strides should be larger than 0.")]
    SpatialStridesNotPositive {
        /// The whole `strides` attribute.
        strides: Vec<i64>,
    },
    /// A spatial dilation of `Conv3D` is zero or negative.
    #[error("Dilated rates should be larger than 0.")]
    SpatialDilationsNotPositive {
        /// The whole `dilations` attribute.
        dilations: Vec<i64>,
    },
    /// `Conv3D`'s `input` is not rank 5.
    #[error("input must be 5-dimensional")]
    Conv3dInputRank {
        /// Shape of `input`.
        shape: Vec<usize>,
    },
    /// `Conv3D`'s `filter` is not rank 5.
    #[error("filter must be 5-dimensional")]
    Conv3dFilterRank {
        /// Shape of `filter`.
        shape: Vec<usize>,
    },
    /// `Conv3D`'s filter has zero input channels (dimension 3).
    #[error("filter_depth must be non-zero")]
    Conv3dFilterDepthZero,
    /// The input's channels are not a multiple of the filter's input channels.
    #[error("Input depth must be evenly divisible by filter depth: {input} vs {filter}")]
    InputDepthNotDivisible {
        /// Channels of `input`.
        input: usize,
        /// `filter` dimension 3.
        filter: usize,
    },
    /// `Conv3D`'s filter has a zero dimension.
    #[error("filter must not have zero elements (i.e. all dimensions must be non-zero)")]
    FilterEmpty {
        /// Shape of `filter`.
        shape: Vec<usize>,
    },
    /// A grouped `Conv3D` (input channels a multiple > 1 of filter dimension 3), which
    /// TensorFlow's CPU kernel refuses.
    #[error("Number of channels in filter ({filter}) must match last dimension of input ({input})")]
    GroupedConvolution {
        /// Channels of `input`.
        input: usize,
        /// `filter` dimension 3.
        filter: usize,
    },
    // Conv3DBackpropFilterV2
    /// `filter_sizes` is not a rank-1 tensor.
    #[error("filter_sizes shape must be rank 1 but is rank {rank}")]
    FilterSizesNotVector {
        /// Rank of the `filter_sizes` operand.
        rank: usize,
    },
    /// The `input` tensor of `Conv3DBackpropFilterV2` is not rank 5.
    #[error("input tensor must have 5 dimensions")]
    FilterOpInputRank {
        /// Shape of `input`.
        shape: Vec<usize>,
    },
    /// `filter_sizes` does not have 5 entries.
    #[error("filter_sizes tensor must have 5 dimensions")]
    FilterSizesRank {
        /// The `filter_sizes` values.
        sizes: Vec<i64>,
    },
    /// Input channels differ between `input` and `filter_sizes`.
    #[error(
        "input and filter_sizes must have the same number of channels. Got {input} for input and {filter} for filter_sizes"
    )]
    FilterOpInputChannelMismatch {
        /// Channels of `input`.
        input: usize,
        /// `filter_sizes[3]`.
        filter: i64,
    },
    /// `filter_sizes[3]` (the filter's input channels) is zero.
    #[error("{op}: filter depth must be strictly greated than zero")]
    FilterDepthNotPositive {
        /// TensorFlow's label for the op (`Conv3DBackpropFilterOp`).
        op: &'static str,
    },
}

impl KernelError {
    /// A short sentence on how to fix the problem, where one helps.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::StridesTooShort { .. } | Self::StridesLength { .. } => {
                "give 5 strides in data_format order, e.g. [1, 2, 2, 2, 1]".to_owned()
            }
            Self::DilationsLength { .. } => {
                "give 5 dilations in data_format order, e.g. [1, 1, 1, 1, 1]".to_owned()
            }
            Self::InvalidPadding { .. } => "use SAME or VALID".to_owned(),
            Self::InvalidDataFormat { .. } => "use NDHWC or NCDHW".to_owned(),
            Self::DilationInBatchOrChannel { dilations } => {
                format!("dilations are {dilations:?}: set the batch and channel entries to 1")
            }
            Self::StrideInBatchOrChannel { strides } => {
                format!("strides are {strides:?}: set the batch and channel entries to 1")
            }
            Self::InputSizesNotVector { .. } | Self::InputRank { .. } => {
                "input_sizes must be a vector of 5 sizes, e.g. [1, 8, 8, 8, 3]".to_owned()
            }
            Self::NegativeDimension { .. } => {
                "every entry of input_sizes or filter_sizes must be 0 or more".to_owned()
            }
            Self::FilterRank { shape } => {
                format!("filter has shape {shape:?}: it must be [KD, KH, KW, C, M]")
            }
            Self::OutBackpropRank { shape } => format!(
                "out_backprop has shape {shape:?}: it must be 5-D, [N, OD, OH, OW, M] (NDHWC) or [N, M, OD, OH, OW] (NCDHW)"
            ),
            Self::InputChannelMismatch { filter, .. } => {
                format!("make the channel entry of input_sizes equal filter dimension 3 ({filter})")
            }
            Self::OutputChannelMismatch { filter, .. } => format!(
                "make out_backprop's channel dimension equal the filter's output channels, its dimension 4 ({filter})"
            ),
            Self::BatchMismatch { op, .. } => {
                if *op == "Conv3DBackpropFilterOp" {
                    "input's and out_backprop's batch sizes must be equal".to_owned()
                } else {
                    "input_sizes[0] and out_backprop's batch must be equal".to_owned()
                }
            }
            Self::FilterDepthZero => "the filter needs at least one input channel".to_owned(),
            Self::StrideNotPositive { .. } => "spatial strides must be 1 or more".to_owned(),
            Self::DilationNotPositive { .. } => "spatial dilations must be 1 or more".to_owned(),
            Self::NegativeOutputSize { .. } => {
                "with VALID padding the (dilated) filter must fit in the input: use SAME padding or a smaller filter".to_owned()
            }
            Self::OutBackpropSizeMismatch { computed, spatial_dim, .. } => format!(
                "out_backprop's spatial dimension {spatial_dim} must be {computed} for these input sizes, filter, strides and padding"
            ),
            Self::EmptyWork => {
                "give the filter and out_backprop at least one element".to_owned()
            }
            Self::IncompatibleShapes { x, y } => format!(
                "shapes {x:?} and {y:?} must be equal or 1 in each dimension, counted from the last"
            ),
            Self::InvalidReductionDimension { rank, .. } => format!(
                "axes must be from -{rank} to {} for an input of rank {rank}",
                rank.saturating_sub(1)
            ),
            Self::DuplicateReductionAxis { index } => {
                format!("name axis {index} once (a negative axis counts from the end)")
            }
            Self::SpatialStridesNotPositive { strides } => {
                format!("strides are {strides:?}: every spatial stride must be 1 or more")
            }
            Self::SpatialDilationsNotPositive { dilations }
            | Self::GradientDilationNotPositive { dilations } => {
                format!("dilations are {dilations:?}: every spatial dilation must be 1 or more")
            }
            Self::Conv3dInputRank { shape } => format!(
                "input has shape {shape:?}: it must be 5-D, [N, D, H, W, C] (NDHWC) or [N, C, D, H, W] (NCDHW)"
            ),
            Self::Conv3dFilterRank { shape } => {
                format!("filter has shape {shape:?}: it must be [KD, KH, KW, C, M]")
            }
            Self::Conv3dFilterDepthZero => {
                "the filter needs at least one input channel (dimension 3)".to_owned()
            }
            Self::InputDepthNotDivisible { input, .. } | Self::GroupedConvolution { input, .. } => {
                format!("make filter dimension 3 equal the input's channel count ({input})")
            }
            Self::FilterEmpty { shape } => {
                format!("filter has shape {shape:?}: every dimension must be 1 or more")
            }
            Self::FilterSizesNotVector { .. } | Self::FilterSizesRank { .. } => {
                "filter_sizes must be a vector of 5 sizes, [KD, KH, KW, IC, OC]".to_owned()
            }
            Self::FilterOpInputRank { shape } => format!(
                "input has shape {shape:?}: it must be 5-D, [N, D, H, W, C] (NDHWC) or [N, C, D, H, W] (NCDHW)"
            ),
            Self::FilterOpInputChannelMismatch { input, .. } => {
                format!("make filter_sizes[3] equal the input's channel count ({input})")
            }
            Self::FilterDepthNotPositive { .. } => {
                "the filter needs at least one input channel: filter_sizes[3] must be 1 or more"
                    .to_owned()
            }
            Self::TooManyDimensions { .. }
            | Self::ShapeOverflow { .. }
            | Self::Overflow { .. }
            | Self::TooLarge { .. }
            | Self::OverBudget { .. }
            | Self::Cancelled => return None,
        };
        Some(hint)
    }
}

/// `[1,5]`, as TensorFlow prints a shape.
pub(crate) fn fmt_dims(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(","))
}

/// TensorFlow's `TensorShape::DebugString` of a shape proto: `-1` prints as `?`.
fn fmt_shape_proto(dims: &[i64]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|&d| {
            if d == -1 {
                "?".to_owned()
            } else {
                d.to_string()
            }
        })
        .collect();
    format!("[{}]", parts.join(","))
}
