//! Joiners, starters and leavers through the server: the leaver allowance on the apply API, and
//! `lifecycle.automatic`, where `grantflow serve` plans and applies what the HRIS and the dates make
//! due by itself — once per change, across ticks and restarts.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::kit::Server;

/// Polls `check` (every 200 ms, for up to 60 s) until it gives a value.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every lifecycle plan's jobs, for a failure's message.
async fn jobs(server: &Server) -> String {
    let mut text = String::new();
    for (plan, step) in lifecycle_plans(server).await {
        let jobs = server.store.jobs(&plan).await.expect("jobs");
        text.push_str(&format!("{plan} ({step}): {jobs:#?}\n"));
    }
    text
}

/// The sandbox Okta's API, as an administrator reads it.
struct Okta {
    base: String,
    admin: String,
    token: String,
    http: reqwest::Client,
}

impl Okta {
    fn of(server: &Server) -> Okta {
        let info = &server.sandbox.info.systems["okta"];
        Okta {
            base: info.base_url.clone(),
            admin: info.admin_url.clone(),
            token: info.credentials["token"].clone(),
            http: info.http_client().expect("client"),
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", format!("SSWS {}", self.token))
            .header("accept", "application/json")
            .send()
            .await
            .expect("okta");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn user(&self, login: &str) -> Option<Value> {
        let (status, user) = self.get(&format!("/api/v1/users/{login}")).await;
        (status == 200).then_some(user)
    }

    /// Every user with `login`, deprovisioned ones included (a search includes them, a plain list
    /// does not).
    async fn users_with_login(&self, login: &str) -> usize {
        let (_, users) = self
            .get(&format!(
                "/api/v1/users?limit=200&search=profile.login%20eq%20%22{login}%22"
            ))
            .await;
        users
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|u| u["profile"]["login"] == login)
                    .count()
            })
            .unwrap_or(0)
    }

    async fn groups(&self, id: &str) -> Vec<String> {
        let (_, groups) = self.get(&format!("/api/v1/users/{id}/groups")).await;
        groups
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["profile"]["name"].as_str().map(str::to_string))
            .collect()
    }

    async fn sessions_cleared(&self, id: &str) -> u64 {
        let counters: Value = self
            .http
            .get(format!("{}/counters", self.admin))
            .send()
            .await
            .expect("okta admin")
            .json()
            .await
            .expect("json");
        counters["sessions_cleared"][id].as_u64().unwrap_or(0)
    }

    /// An administrator sets the staged user's password before the start date, so that activation
    /// makes the account ACTIVE (Okta: a user activated with a password is ACTIVE).
    async fn set_password(&self, id: &str) {
        let response = self
            .http
            .post(format!("{}/api/v1/users/{id}", self.base))
            .header("authorization", format!("SSWS {}", self.token))
            .header("accept", "application/json")
            .json(&json!({"credentials": {"password": {"value": "Correct-Horse-42!"}}}))
            .send()
            .await
            .expect("okta");
        assert!(response.status().is_success(), "{}", response.status());
    }
}

/// Changes an employee as HR would in BambooHR (the emulator delivers the signed webhooks it sets off).
async fn hr_change(server: &Server, change: Value) -> Value {
    let info = &server.sandbox.info.systems["bamboohr"];
    info.http_client()
        .expect("client")
        .post(format!("{}/employees", info.admin_url))
        .json(&change)
        .send()
        .await
        .expect("bamboohr admin")
        .json()
        .await
        .expect("json")
}

/// Points the BambooHR emulator's webhook at the server.
async fn point_webhook(server: &Server) {
    let info = &server.sandbox.info.systems["bamboohr"];
    let pointed = info
        .http_client()
        .expect("client")
        .post(format!("{}/webhooks/1", info.admin_url))
        .json(&json!({"url": server.url("/hooks/bamboohr/bamboohr")}))
        .send()
        .await
        .expect("bamboohr admin");
    assert!(pointed.status().is_success());
}

fn day(server: &Server, offset_days: i64) -> String {
    let now = grantflow_model::Clock::now(server.clock.as_ref());
    (now + chrono::Duration::days(offset_days))
        .date_naive()
        .to_string()
}

const SALES_LEAVERS: &str = r#"policies:
  - name: sales-accounts
    when: has(person.hris) && person.hris.department == "Sales"
    accounts:
      - system: okta
        attributes: {login: person.email, email: person.email}
        send_email: true
    grants:
      - {system: okta, resource: group/Sales}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_leaver_plan_through_the_api_passes_the_rail_only_with_the_leaver_allowance() {
    let server = Server::start_systems(true, &["okta", "bamboohr"], |config, dir| {
        // Any account losing access trips the rail.
        config.safety.max_removed_accounts = 0;
        std::fs::write(dir.join("policies/sales.yaml"), SALES_LEAVERS).expect("policy");
    })
    .await;
    let yesterday = day(&server, -1);
    hr_change(&server, json!({"id": "131", "terminationDate": yesterday})).await;
    let (status, body) = server
        .call("admin", "POST", "/api/v1/connections/bamboohr/sync", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, plan) = server
        .call(
            "admin",
            "POST",
            "/api/v1/plans",
            Some(json!({"from": "policies"})),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let id = plan["id"].as_str().expect("plan id").to_string();
    let retires_sofia = plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .any(|op| {
            op["kind"] == "retire_account" && op["account"]["login"] == "sofia.garcia@example.com"
        });
    assert!(retires_sofia, "{plan:#}");

    let apply = format!("/api/v1/plans/{id}/apply");
    let (status, refused) = server.call("admin", "POST", &apply, None).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "mass_removal", "{refused}");
    let (status, refused) = server
        .call(
            "admin",
            "POST",
            &format!("{apply}?allow_leavers=someotherplan"),
            None,
        )
        .await;
    assert_eq!(
        status, 409,
        "the allowance names the plan it is for: {refused}"
    );

    let (status, queued) = server
        .call(
            "admin",
            "POST",
            &format!("{apply}?allow_leavers={id}"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let okta = Okta::of(&server);
    let sofia = eventually("sofia's account retired", || async {
        okta.user("sofia.garcia@example.com")
            .await
            .filter(|u| u["status"] == "DEPROVISIONED")
    })
    .await;
    let sofia_id = sofia["id"].as_str().expect("id");
    assert!(okta.sessions_cleared(sofia_id).await >= 1);

    let events = server.store.audit_events().await.expect("events");
    let allowed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "plan.leaver_allowed" && e.subject == id)
        .collect();
    assert_eq!(allowed.len(), 1, "audited once");
    assert_eq!(allowed[0].actor, "token:admin");
    assert!(
        allowed[0].details["retired"]
            .to_string()
            .contains("sofia.garcia@example.com"),
        "{}",
        allowed[0].details
    );
    assert!(
        !events
            .iter()
            .any(|e| e.action == "plan.mass_removal_allowed" && e.subject == id),
        "the rail was not turned off"
    );
}

const JOINERS: &str = r#"policies:
  - name: solutions
    when: has(person.hris) && person.hris.department == "Solutions"
    accounts:
      - system: okta
        attributes:
          login: person.email
          email: person.email
          firstName: person.hris.first_name
          lastName: person.hris.last_name
        send_email: true
    grants:
      - {system: okta, resource: group/Platform}
"#;

/// The lifecycle plans made so far: (plan, step) per recorded change.
async fn lifecycle_plans(server: &Server) -> Vec<(String, String)> {
    server
        .store
        .lifecycle_changes()
        .await
        .expect("changes")
        .into_iter()
        .map(|(_, _, step, plan, _)| (plan, step))
        .collect()
}

async fn plans_created_by_lifecycle(server: &Server) -> Vec<String> {
    server
        .store
        .audit_events()
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.action == "plan.created" && e.actor == "grantflow:lifecycle")
        .map(|e| e.subject)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_creates_activates_and_retires_accounts_by_itself_as_the_hris_and_the_dates_say() {
    let mut server = Server::start_sharing_clock(true, &["okta", "bamboohr"], |config, dir| {
        config.lifecycle.automatic = true;
        config.lifecycle.check_every_seconds = 1;
        std::fs::write(dir.join("policies/joiners.yaml"), JOINERS).expect("policy");
    })
    .await;
    point_webhook(&server).await;
    let okta = Okta::of(&server);
    let login = "rosa.lind@example.com";

    // A pre-hire appears in BambooHR, with no account anywhere; its webhook wakes a sync.
    let start = day(&server, 3);
    let added = hr_change(
        &server,
        json!({"firstName": "Rosa", "lastName": "Lind", "workEmail": login, "hireDate": start,
               "status": "Active", "department": "Solutions", "jobTitle": "Solutions Engineer"}),
    )
    .await;
    assert_eq!(added["deliveries"][0]["status"], 204, "{added}");
    let employee = added["id"].as_str().expect("employee id").to_string();
    let staged = eventually("the staged Okta account", || async {
        okta.user(login).await.filter(|u| u["status"] == "STAGED")
    })
    .await;
    let rosa = staged["id"].as_str().expect("id").to_string();
    assert_eq!(staged["profile"]["firstName"], "Rosa");
    let first = lifecycle_plans(&server).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].1, "joiner");

    // Repeated date checks and a restart make no second plan.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.restart().await;
    point_webhook(&server).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(plans_created_by_lifecycle(&server).await.len(), 1);
    assert_eq!(okta.users_with_login(login).await, 1);

    // Before the start date IT sets her password; on the start date the account is activated.
    okta.set_password(&rosa).await;
    server.clock.advance(Duration::from_secs(3 * 86_400));
    let activated = eventually("the account activated on the start date", || async {
        okta.user(login).await.filter(|u| u["status"] == "ACTIVE")
    })
    .await;
    assert_eq!(activated["id"], rosa.as_str(), "{}", jobs(&server).await);
    let groups = eventually("her group", || async {
        let groups = okta.groups(&rosa).await;
        groups.contains(&"Platform".to_string()).then_some(groups)
    })
    .await;
    assert!(groups.contains(&"Platform".to_string()));
    let steps: Vec<String> = lifecycle_plans(&server)
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(steps, ["joiner", "start"]);

    // HR records her last day as today (signed webhook, sync); she leaves once it has passed.
    let today = day(&server, 0);
    let ended = hr_change(&server, json!({"id": employee, "terminationDate": today})).await;
    assert_eq!(ended["deliveries"][0]["status"], 204, "{ended}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        okta.user(login).await.expect("rosa")["status"],
        "ACTIVE",
        "her last day is not over"
    );
    server.clock.advance(Duration::from_secs(86_400));
    eventually("the account retired", || async {
        okta.user(login)
            .await
            .filter(|u| u["status"] == "DEPROVISIONED")
    })
    .await;
    assert!(okta.sessions_cleared(&rosa).await >= 1, "sessions cleared");
    eventually("her grant removed", || async {
        (!okta.groups(&rosa).await.contains(&"Platform".to_string())).then_some(())
    })
    .await;

    // Nothing planned twice: one plan per due change, each created by the lifecycle schedule.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let plans = lifecycle_plans(&server).await;
    let steps: Vec<&str> = plans.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        steps.iter().filter(|s| **s == "leaver").count() >= 1
            && steps.iter().filter(|s| **s != "leaver").count() == 2,
        "{plans:?}"
    );
    let mut distinct: Vec<&str> = plans.iter().map(|(p, _)| p.as_str()).collect();
    distinct.dedup();
    let created = plans_created_by_lifecycle(&server).await;
    assert_eq!(created.len(), 3, "{created:?}");
    assert_eq!(distinct.len(), 3, "{plans:?}");
    assert_eq!(okta.users_with_login(login).await, 1);
    let leaver_plan = &plans.last().expect("a leaver plan").0;
    let events = server.store.audit_events().await.expect("events");
    let allowed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "plan.leaver_allowed" && &e.subject == leaver_plan)
        .collect();
    assert_eq!(allowed.len(), 1, "the leaver allowance, audited");
    assert_eq!(allowed[0].actor, "grantflow:lifecycle");
    assert!(
        !events
            .iter()
            .any(|e| e.action == "plan.mass_removal_allowed"),
        "never with the rail off"
    );
}
