//! A Salesforce record created starts a flow: the worker polls the object's `CreatedDate` after a cursor kept
//! in the store. Records that existed before the feed started start nothing; a new Opportunity starts one run
//! after a poll; a second poll, and a poll by a service opened again on the same store, start nothing more.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use grantflow_sandbox::{SandboxOptions, demo_org, start};
use grantflow_service::Service;
use grantflow_service::config::{Config, NewConnection, new_config};
use grantflow_store::RunStart;
use serde_json::{Value, json};

const ON_OPPORTUNITY: &str = r#"
flow: on-opportunity
trigger:
  event: {connection: salesforce, kind: record_created, object: Opportunity}
steps:
  - id: seen
    card: set
    with: {deal: "${event.name}"}
"#;

const ON_ACCOUNT: &str = r#"
flow: on-account
trigger:
  event: {connection: salesforce, kind: record_created, object: Account}
steps:
  - id: seen
    card: set
    with: {account: "${event.name}"}
"#;

fn started(runs: &[RunStart]) -> Vec<String> {
    runs.iter()
        .filter_map(|r| match r {
            RunStart::Started(run) => Some(run.flow.clone()),
            RunStart::Duplicate(_) => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_opportunity_starts_one_run_after_a_poll_and_never_a_second() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().unwrap();
    let mut connections = Vec::new();
    for system in ["okta", "salesforce"] {
        let info = &sandbox.info.systems[system];
        connections.push(NewConnection {
            name: system.into(),
            kind: system.into(),
            base_url: info.base_url.clone(),
            credentials: info
                .connection_credentials()
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
            ca_certificate: info.ca_certificate.clone(),
            settings: info.settings.clone(),
        });
    }
    let text = new_config(
        &connections,
        "okta",
        dir.path(),
        serde_json::Map::new(),
        "events",
    )
    .unwrap();
    let path = dir.path().join("grantflow.yaml");
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/on-opportunity.yaml"), ON_OPPORTUNITY).unwrap();
    std::fs::write(dir.path().join("flows/on-account.yaml"), ON_ACCOUNT).unwrap();
    let mut config = Config::load(&path).unwrap();
    config.database = format!("sqlite://{}", dir.path().join("grantflow.db").display());
    config.flows.directory = dir.path().join("flows");

    // An event kind of another system than the connection's is a mistake at the trigger's `kind:`.
    let wrong = dir.path().join("wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    std::fs::write(
        wrong.join("on-okta-channel.yaml"),
        "flow: on-okta-channel\ntrigger:\n  event: {connection: okta, kind: channel_created}\nsteps:\n  - id: s\n    card: set\n    with: {a: 1}\n",
    )
    .unwrap();
    let checked = Service::open(config.clone()).await.unwrap();
    let problem = checked.load_flows(Some(&wrong)).unwrap_err().to_string();
    assert!(
        problem.contains("on-okta-channel.yaml:3:")
            && problem.contains("is a slack event, but connection `okta` is okta"),
        "{problem}"
    );
    drop(checked);

    let sf = &sandbox.info.systems["salesforce"];
    let ca = std::fs::read(sf.ca_certificate.as_ref().unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let create = |object: &'static str, fields: Value| {
        let client = &client;
        async move {
            let created = client
                .post(format!(
                    "{}/services/data/v59.0/sobjects/{object}/",
                    sf.base_url
                ))
                .bearer_auth(&sf.credentials["token"])
                .json(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
            created.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // An Opportunity that exists before the feed starts is not a new one.
    create(
        "Opportunity",
        json!({"Name": "Old deal", "StageName": "Prospecting", "CloseDate": "2027-01-31"}),
    )
    .await;

    let service = Service::open(config.clone()).await.unwrap();
    let flows = Arc::new(service.load_flows(None).unwrap());
    assert!(
        started(&service.poll_record_feeds(&flows).await.unwrap()).is_empty(),
        "the first poll only finds where the feeds start"
    );
    create(
        "Opportunity",
        json!({"Name": "Acme renewal", "StageName": "Prospecting", "CloseDate": "2027-03-31"}),
    )
    .await;
    let runs = service.poll_record_feeds(&flows).await.unwrap();
    assert_eq!(
        started(&runs),
        ["on-opportunity"],
        "one new Opportunity, one run"
    );
    let RunStart::Started(run) = &runs[0] else {
        unreachable!()
    };
    assert_eq!(run.event["event"]["name"], "Acme renewal", "{}", run.event);
    assert_eq!(run.event["event"]["object"], "Opportunity");
    assert!(started(&service.poll_record_feeds(&flows).await.unwrap()).is_empty());

    // A restart reads the cursor from the store: nothing is repeated, and what is new is still seen.
    drop(service);
    let reopened = Service::open(config).await.unwrap();
    assert!(started(&reopened.poll_record_feeds(&flows).await.unwrap()).is_empty());
    create("Account", json!({"Name": "Globex"})).await;
    assert_eq!(
        started(&reopened.poll_record_feeds(&flows).await.unwrap()),
        ["on-account"]
    );
    sandbox.shutdown().await;
}
