//! The controller manager: one module per controller, each a level-triggered reconciler on
//! kube-runtime, registered by name and run together under one leader-election Lease.
//!
//! Controllers share informers (`Informers`): one watch and one cache per resource type
//! for the whole manager, however many controllers read it.

mod apierror;
mod cronjob;
mod csr;
mod csrapproving;
mod csrsigning;
mod daemonset;
mod deployment;
mod discovery;
mod disruption;
mod endpoints;
mod endpointslice;
mod garbagecollector;
mod history;
mod informers;
mod job;
mod keyed;
mod manager;
mod mirroring;
mod namespace;
mod nodeipam;
mod nodelifecycle;
mod persistentvolume;
mod podgc;
mod replicaset;
mod rootca;
mod serviceaccount;
mod servicelb;
mod statefulset;
mod taint_eviction;
mod ttl;
mod workqueue;

pub use informers::Informers;
pub use manager::{Context, ControllerConfig, ControllerManager, Error, Sensitive, registry};
