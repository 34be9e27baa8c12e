//! Declared resources: which creations are grantflow's, and what a deletion forgets.

use super::*;

fn declared(id: u32, name: &str, delete: bool) -> Operation {
    let resource = ResourceRef::pending("group", name);
    Operation {
        id: OperationId(id),
        connection: ConnectionName::new("fake"),
        kind: if delete {
            OpKind::DeleteResource { resource }
        } else {
            OpKind::CreateResource {
                resource,
                spec: Default::default(),
            }
        },
        reasons: vec!["test".into()],
        depends_on: vec![],
    }
}

/// What the store says grantflow made: name → by grantflow.
async fn made(store: &Store) -> BTreeMap<String, bool> {
    store
        .declared_objects()
        .await
        .expect("declared objects")
        .into_iter()
        .map(|o| (o.name, o.by_grantflow))
        .collect()
}

#[tokio::test]
async fn a_creation_is_grantflow_s_only_when_its_own_call_made_it_and_a_deletion_forgets_it() {
    let (w, clock) = manual_world().await;
    // "found" was there already: the connector finds it and changes nothing.
    w.fake
        .script("pending:found", vec![Ok(Applied::AlreadyPresent)]);
    let plan_1 = plan(vec![
        declared(0, "made", false),
        declared(1, "found", false),
        declared(2, "interrupted", false),
    ]);
    w.store.save_plan(&plan_1, "test").await.expect("save");
    // "interrupted": a previous process's call took effect, then the process died before recording it.
    let mut claimed = None;
    while let Some(job) = w
        .store
        .claim("dead-worker", Some(&plan_1.id), Duration::from_millis(1))
        .await
        .expect("claim")
    {
        if job.op_id == 2 {
            claimed = Some(job);
            break;
        }
    }
    let lease = claimed.and_then(|j| j.lease).expect("the interrupted job");
    w.store
        .start_attempt(
            &plan_1.id,
            &plan_1.operations[2],
            "test",
            serde_json::json!({}),
            &lease,
            Duration::from_millis(1),
        )
        .await
        .expect("attempt");
    if let Ok(mut present) = w.fake.present.lock() {
        present.insert("pending:interrupted".into());
    }
    clock.advance(Duration::from_millis(5));
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan_1).await, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        made(&w.store).await,
        BTreeMap::from([
            ("found".to_string(), false),
            ("interrupted".to_string(), true),
            ("made".to_string(), true),
        ])
    );
    let plan_2 = plan(vec![declared(0, "made", true)]);
    w.store.save_plan(&plan_2, "test").await.expect("save");
    // A deletion counts against the safety rail: the only thing in the connection is a removal of all of it.
    let snapshots = BTreeMap::new();
    let gate = |allow| GateRequest {
        snapshots: &snapshots,
        allow_mass_removal: allow,
        actor: "test",
    };
    let refused =
        grantflow_engine::clear(&w.store, &plan_2.id, &gate(None), &GateSettings::default())
            .await
            .expect("store");
    assert!(
        matches!(&refused, Err(grantflow_engine::Refusal::MassRemoval(_))),
        "{refused:?}"
    );
    let allowed = grantflow_engine::clear(
        &w.store,
        &plan_2.id,
        &gate(Some(plan_2.id.as_str())),
        &GateSettings::default(),
    )
    .await
    .expect("store")
    .expect("named past the rail");
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&allowed, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:?}");
    assert!(!made(&w.store).await.contains_key("made"));
}
