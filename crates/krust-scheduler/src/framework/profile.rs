//! A scheduling profile: which plugins run, in which order, with which score weights and
//! arguments. The default is upstream's default profile (v1.33) minus the plugins krust
//! does not implement (ImageLocality, VolumeRestrictions, NodeVolumeLimits, VolumeZone,
//! DynamicResources).

use serde::{Deserialize, Serialize};

/// One enabled plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginSpec {
    /// Registered name.
    pub name: String,
    /// Score weight (ignored for plugins that do not score; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

impl PluginSpec {
    fn new(name: &str, weight: Option<i64>) -> Self {
        Self {
            name: name.into(),
            weight,
        }
    }
}

/// How NodeResourcesFit scores nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ScoringStrategyType {
    /// Prefer nodes with more free resources (spreading; the default).
    #[default]
    LeastAllocated,
    /// Prefer nodes with fewer free resources (bin packing).
    MostAllocated,
    /// Score by a piecewise-linear function of utilization.
    RequestedToCapacityRatio,
}

/// A resource and its weight in scoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSpec {
    /// Resource name (`cpu`, `memory`, `example.com/gpu`).
    pub name: String,
    /// Weight.
    pub weight: i64,
}

/// One point of the RequestedToCapacityRatio shape (utilization 0–100 → score 0–10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtilizationShapePoint {
    /// Utilization in percent.
    pub utilization: i64,
    /// Score, 0–10.
    pub score: i64,
}

/// RequestedToCapacityRatio arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestedToCapacityRatioParam {
    /// The shape, by ascending utilization.
    pub shape: Vec<UtilizationShapePoint>,
}

/// NodeResourcesFit's scoring strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScoringStrategy {
    /// Strategy.
    #[serde(rename = "type")]
    pub kind: ScoringStrategyType,
    /// Resources and weights.
    pub resources: Vec<ResourceSpec>,
    /// Shape for RequestedToCapacityRatio.
    pub requested_to_capacity_ratio: RequestedToCapacityRatioParam,
}

fn cpu_memory() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec {
            name: "cpu".into(),
            weight: 1,
        },
        ResourceSpec {
            name: "memory".into(),
            weight: 1,
        },
    ]
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        Self {
            kind: ScoringStrategyType::LeastAllocated,
            resources: cpu_memory(),
            requested_to_capacity_ratio: RequestedToCapacityRatioParam::default(),
        }
    }
}

/// NodeResourcesFit arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter ignores.
    pub ignored_resources: Vec<String>,
    /// Scoring.
    pub scoring_strategy: ScoringStrategy,
}

/// NodeResourcesBalancedAllocation arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BalancedAllocationArgs {
    /// Resources to balance.
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        Self {
            resources: cpu_memory(),
        }
    }
}

/// A cluster-level default spread constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultConstraint {
    /// maxSkew.
    pub max_skew: i32,
    /// Node label of the domain.
    pub topology_key: String,
    /// `DoNotSchedule` or `ScheduleAnyway`.
    pub when_unsatisfiable: String,
}

/// Where default spread constraints come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DefaultingType {
    /// Upstream's system defaults: hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway.
    #[default]
    System,
    /// The listed `defaultConstraints`.
    List,
}

/// PodTopologySpread arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods without their own (with `defaultingType: List`).
    pub default_constraints: Vec<DefaultConstraint>,
    /// Which defaults apply.
    pub defaulting_type: DefaultingType,
}

impl PodTopologySpreadArgs {
    /// The constraints in effect for pods without their own.
    pub fn effective_defaults(&self) -> Vec<DefaultConstraint> {
        match self.defaulting_type {
            DefaultingType::List => self.default_constraints.clone(),
            DefaultingType::System => vec![
                DefaultConstraint {
                    max_skew: 3,
                    topology_key: "kubernetes.io/hostname".into(),
                    when_unsatisfiable: "ScheduleAnyway".into(),
                },
                DefaultConstraint {
                    max_skew: 5,
                    topology_key: "topology.kubernetes.io/zone".into(),
                    when_unsatisfiable: "ScheduleAnyway".into(),
                },
            ],
        }
    }
}

/// InterPodAffinity arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InterPodAffinityArgs {
    /// Score weight of existing pods' required affinity terms matching the incoming pod.
    pub hard_pod_affinity_weight: i64,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        Self {
            hard_pod_affinity_weight: 1,
        }
    }
}

/// Arguments of all configurable plugins.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PluginArgs {
    /// NodeResourcesFit.
    pub node_resources_fit: NodeResourcesFitArgs,
    /// NodeResourcesBalancedAllocation.
    pub node_resources_balanced_allocation: BalancedAllocationArgs,
    /// PodTopologySpread.
    pub pod_topology_spread: PodTopologySpreadArgs,
    /// InterPodAffinity.
    pub inter_pod_affinity: InterPodAffinityArgs,
}

/// A profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Profile {
    /// Enabled plugins, in the order they run at each extension point.
    pub plugins: Vec<PluginSpec>,
    /// Plugin arguments.
    pub plugin_config: PluginArgs,
    /// Percentage of nodes to look at for feasible ones (None: upstream's adaptive
    /// default, 50% minus 1% per 125 nodes, at least 5%, at least 100 nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentage_of_nodes_to_score: Option<u32>,
}

impl Default for Profile {
    fn default() -> Self {
        let p = PluginSpec::new;
        Self {
            plugins: vec![
                p("NodeUnschedulable", None),
                p("NodeName", None),
                p("TaintToleration", Some(3)),
                p("NodeAffinity", Some(2)),
                p("NodePorts", None),
                p("NodeResourcesFit", Some(1)),
                p("VolumeBinding", None),
                p("PodTopologySpread", Some(2)),
                p("InterPodAffinity", Some(2)),
                p("DefaultPreemption", None),
                p("NodeResourcesBalancedAllocation", Some(1)),
                p("DefaultBinder", None),
            ],
            plugin_config: PluginArgs::default(),
            percentage_of_nodes_to_score: None,
        }
    }
}
