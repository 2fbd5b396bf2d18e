use std::time::Duration;

use super::*;
use crate::clock::FakeClock;
use crate::pod::fixtures::{pod, t};

fn node(index: u32) -> NodeContext {
    NodeContext {
        index,
        name: format!("sim-{index}"),
        ip: ipam::node_ip(index),
    }
}

fn runtime() -> (Arc<FakeClock>, SimulatedRuntime) {
    let clock = Arc::new(FakeClock::at(t("2025-01-01T00:00:00Z")));
    (
        clock.clone(),
        SimulatedRuntime::new(2, Duration::from_secs(5), clock),
    )
}

fn app(index: usize) -> ContainerRef {
    ContainerRef {
        kind: ContainerKind::App,
        index,
    }
}

fn with_uid(mut p: Pod, uid: &str) -> Pod {
    p.metadata.uid = Some(uid.into());
    p
}

async fn state(rt: &SimulatedRuntime, uid: &str, name: &str) -> ContainerState {
    rt.pod_status(uid)
        .await
        .unwrap()
        .unwrap()
        .container(name)
        .unwrap()
        .state
        .clone()
}

#[tokio::test(start_paused = true)]
async fn sandboxes_get_unique_addresses_per_node_and_give_them_back() {
    let (_, rt) = runtime();
    let a = with_uid(pod("Always", &["c"], &[]), "a");
    let b = with_uid(pod("Always", &["c"], &[]), "b");
    let c = with_uid(pod("Always", &["c"], &[]), "c");
    rt.run_pod_sandbox(&node(0), &a).await.unwrap();
    rt.run_pod_sandbox(&node(0), &a).await.unwrap();
    rt.run_pod_sandbox(&node(0), &b).await.unwrap();
    rt.run_pod_sandbox(&node(1), &c).await.unwrap();
    let ip = |uid: &'static str| {
        let rt = &rt;
        async move {
            rt.pod_status(uid)
                .await
                .unwrap()
                .unwrap()
                .sandbox
                .ip
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(ip("a").await, "10.64.0.2");
    assert_eq!(ip("b").await, "10.64.0.3");
    assert_eq!(ip("c").await, "10.64.1.2");
    rt.remove_pod("a").await.unwrap();
    assert!(rt.pod_status("a").await.unwrap().is_none());
    assert!(
        rt.run_pod_sandbox(&node(9), &a).await.is_err(),
        "node outside the pool"
    );
}

#[tokio::test(start_paused = true)]
async fn containers_follow_their_script() {
    let (clock, rt) = runtime();
    let forever = with_uid(pod("Always", &["c"], &["i"]), "forever");
    rt.run_pod_sandbox(&node(0), &forever).await.unwrap();
    rt.start_container(
        &forever,
        ContainerRef {
            kind: ContainerKind::Init,
            index: 0,
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        state(&rt, "forever", "i").await,
        ContainerState::Exited(Termination { exit_code: 0, .. })
    ));
    rt.start_container(&forever, app(0)).await.unwrap();

    let job = with_uid(pod("Never", &["c"], &[]), "job");
    rt.run_pod_sandbox(&node(0), &job).await.unwrap();
    rt.start_container(&job, app(0)).await.unwrap();
    assert!(matches!(
        state(&rt, "job", "c").await,
        ContainerState::Running { .. }
    ));

    let mut failing = with_uid(pod("Never", &["c"], &[]), "failing");
    failing.metadata.annotations = Some([(crate::EXIT_CODE_ANNOTATION.to_string(), "42".to_string())].into());
    rt.run_pod_sandbox(&node(0), &failing).await.unwrap();
    rt.start_container(&failing, app(0)).await.unwrap();

    let mut woke = vec![rt.next_event().await.unwrap(), rt.next_event().await.unwrap()];
    woke.sort();
    assert_eq!(woke, vec!["failing", "job"]);
    clock.advance(Duration::from_secs(5));
    match state(&rt, "job", "c").await {
        ContainerState::Exited(t) => {
            assert_eq!(t.exit_code, 0);
            assert_eq!(t.finished_at.duration_since(t.started_at).as_secs(), 5);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        state(&rt, "failing", "c").await,
        ContainerState::Exited(Termination { exit_code: 42, .. })
    ));
    assert!(matches!(
        state(&rt, "forever", "c").await,
        ContainerState::Running { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn restarts_keep_the_previous_instance_and_kill_ends_everything() {
    let (_, rt) = runtime();
    let p = with_uid(pod("Never", &["c"], &[]), "p");
    rt.run_pod_sandbox(&node(0), &p).await.unwrap();
    rt.start_container(&p, app(0)).await.unwrap();
    rt.start_container(&p, app(0)).await.unwrap();
    let s = rt.pod_status("p").await.unwrap().unwrap();
    assert_eq!(
        s.containers[0].attempt, 0,
        "starting a running container does nothing"
    );
    rt.next_event().await;
    rt.start_container(&p, app(0)).await.unwrap();
    let s = rt.pod_status("p").await.unwrap().unwrap();
    let c = &s.containers[0];
    assert_eq!(c.attempt, 1);
    assert!(matches!(c.state, ContainerState::Running { .. }));
    assert_ne!(c.previous.as_ref().unwrap().id, c.id);
    rt.kill_pod("p", Duration::from_secs(30)).await.unwrap();
    let s = rt.pod_status("p").await.unwrap().unwrap();
    assert!(!s.sandbox.ready);
    assert!(matches!(s.containers[0].state, ContainerState::Exited(_)));
    assert!(
        rt.start_container(&p, app(0)).await.is_err(),
        "a stopped sandbox runs nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn errors_for_missing_sandbox_or_container() {
    let (_, rt) = runtime();
    let p = with_uid(pod("Never", &["c"], &[]), "p");
    assert!(matches!(
        rt.start_container(&p, app(0)).await,
        Err(RuntimeError::NoSandbox(_))
    ));
    rt.run_pod_sandbox(&node(0), &p).await.unwrap();
    assert!(matches!(
        rt.start_container(&p, app(3)).await,
        Err(RuntimeError::UnknownContainer(_))
    ));
}
