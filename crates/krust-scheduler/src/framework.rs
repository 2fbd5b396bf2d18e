//! The scheduling framework, in upstream's shape: extension points (PreFilter, Filter,
//! PostFilter, PreScore, Score, Reserve, PreBind, Bind) that plugins implement, a `Status`
//! that says why a pod does not fit, typed per-cycle state, and the node and pod views the
//! plugins read.

pub mod cycle_state;
pub mod diagnosis;
pub mod events;
pub mod interface;
pub mod node_info;
pub mod pod_info;
pub mod profile;
pub mod resource;
pub mod runtime;
pub mod selector;
pub mod status;
pub mod taints;

pub use cycle_state::CycleState;
pub use diagnosis::{Diagnosis, FitError, NodeToStatus};
pub use events::{ClusterEvent, EventKind};
pub use interface::{
    BindPlugin, FilterPlugin, MAX_NODE_SCORE, Nominated, Plugin, PostFilterContext, PostFilterPlugin,
    PostFilterResult, PreBindPlugin, PreFilterPlugin, PreScorePlugin, ReservePlugin, ScorePlugin,
};
pub use node_info::{NodeInfo, NodeObj};
pub use pod_info::PodInfo;
pub use profile::Profile;
pub use runtime::Framework;
pub use status::{Code, Status};
