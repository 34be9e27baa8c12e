//! The web console's pages over the same server: each page shows for the
//! roles that may see it and is a 403 page (audited) for the others; a
//! browser without a session is sent to sign in; the people search answers
//! htmx with the results alone; the console's forms change things through
//! the service (a request asked, then approved, applies). The browser
//! tests (tests/browser.rs) drive the same pages through Chromium.

use grantflow_service::Role;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::kit::{PERSON, ROLES, Server};

/// Which roles see which page: (path, roles answered 200; the rest get 403).
const PAGES: &[(&str, &[&str])] = &[
    ("/console/people", &["admin", "viewer"]),
    (
        "/console/requests",
        &[
            "admin",
            "approver",
            "requester",
            "auditor",
            "viewer",
            "operator:okta",
        ],
    ),
    (
        "/console/plans",
        &["admin", "approver", "requester", "viewer", "operator:okta"],
    ),
    ("/console/drift", &["admin", "viewer"]),
    ("/console/flows", &["admin", "auditor", "viewer"]),
    ("/console/reach", &["admin", "viewer"]),
    (
        "/console/connections",
        &["admin", "viewer", "operator:okta"],
    ),
    ("/console/audit", &["admin", "auditor"]),
];

async fn page(server: &Server, token: Option<&str>, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn page_as(server: &Server, role: &str, path: &str) -> (u16, String) {
    page(server, Some(&server.tokens[role]), path).await
}

async fn post_form(
    server: &Server,
    token: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(server.url(path))
        .bearer_auth(token)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_page_shows_for_the_roles_that_may_see_it_and_refuses_the_others() {
    let server = Server::start(false).await;
    for (path, allowed) in PAGES {
        for role in ROLES {
            let (status, body) = page_as(&server, role, path).await;
            if allowed.contains(&role) {
                assert_eq!(status, 200, "{role} on {path}: {body}");
                assert!(body.contains("<main"), "{role} on {path}: a page");
            } else {
                assert_eq!(status, 403, "{role} on {path}");
                assert!(body.contains("<h1>403 Forbidden</h1>"), "{body}");
                assert!(body.contains("may not do this"), "{body}");
            }
        }
    }
    // The navigation offers only the pages the role may open.
    let (_, body) = page_as(&server, "auditor", "/console/requests").await;
    assert!(body.contains("href=\"/console/audit\""));
    assert!(!body.contains("href=\"/console/people\""));
    // The same refusal through the API.
    let (status, _) = server
        .call("requester", "GET", "/api/v1/people", None)
        .await;
    assert_eq!(status, 403);
    // Refused pages are audited with the page's route.
    let refused: Vec<Value> = server
        .store
        .audit_page(Some("api.refused"), None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.details)
        .collect();
    assert!(
        refused
            .iter()
            .any(|d| d["route"] == "GET /console/audit" && d["status"] == 403),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_without_a_session_is_sent_to_sign_in() {
    let server = Server::start(false).await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(server.url("/console/people"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/auth/login");
    // A change without a session is refused, not redirected (its form would be lost).
    let response = client
        .post(server.url("/console/requests"))
        .form(&[("request", "anything"), ("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A bad token is refused too.
    let (status, _) = page(&server, Some("gft_nope_nope"), "/console/people").await;
    assert_eq!(status, 401);
    // The static files need no session, and htmx is served from the binary.
    let htmx = client
        .get(server.url("/console/static/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.status(), 200);
    assert!(htmx.text().await.unwrap().contains("htmx"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_person_page_shows_accounts_grants_and_their_sources() {
    let server = Server::start(false).await;
    let (status, body) = page_as(&server, "viewer", "/console/people?q=okta-demo").await;
    assert_eq!(status, 200);
    assert!(body.contains(PERSON), "{body}");
    assert!(body.contains("<html"), "a whole page without htmx");
    // htmx's search-as-you-type gets the results alone.
    let fragment = reqwest::Client::new()
        .get(server.url("/console/people?q=okta-demo"))
        .bearer_auth(&server.tokens["viewer"])
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.contains(PERSON));
    assert!(!fragment.contains("<html"), "{fragment}");
    let (status, body) = page_as(&server, "viewer", &format!("/console/people/{PERSON}")).await;
    assert_eq!(status, 200, "{body}");
    // The demo user is in Platform through Okta: the okta account, its state and the group with its source.
    assert!(body.contains("Access in every system"));
    assert!(body.contains("okta"));
    assert!(body.contains("Platform"), "{body}");
    assert!(
        body.contains("source-"),
        "each grant says where it comes from"
    );
    let (status, body) = page_as(&server, "viewer", "/console/people/nobody@example.com").await;
    assert_eq!(status, 404);
    assert!(body.contains("nobody with the email"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_asked_and_approved_in_the_console_applies() {
    let server = Server::start(true).await;
    let requester = server.person_token(PERSON, &[Role::Requester]).await;
    let approver = server
        .person_token("sam.okafor@example.com", &[Role::Approver])
        .await;
    let asked = post_form(
        &server,
        &requester,
        "/console/requests",
        &[
            ("request", crate::kit::REQUEST),
            ("reason", "on call this week"),
        ],
    )
    .await;
    assert_eq!(asked.status(), 303, "{}", asked.text().await.unwrap());
    let at = asked.headers()["location"].to_str().unwrap().to_string();
    assert!(at.starts_with("/console/requests/r-"), "{at}");
    // The requester sees it among their own, the approver in their inbox with Approve.
    let (_, mine) = page(&server, Some(&requester), "/console/requests").await;
    assert!(mine.contains(&at), "{mine}");
    let (_, inbox) = page(&server, Some(&approver), "/console/requests").await;
    let waiting = inbox.split("id=\"mine\"").next().unwrap();
    assert!(waiting.contains(&format!("{at}/approve")), "{inbox}");
    // Nobody approves their own request.
    let own = post_form(&server, &requester, &format!("{at}/approve"), &[]).await;
    assert_eq!(own.status(), 403);
    let approved = post_form(
        &server,
        &approver,
        &format!("{at}/approve"),
        &[("comment", "fine")],
    )
    .await;
    assert_eq!(approved.status(), 303, "{}", approved.text().await.unwrap());
    // The approval queued the request's plan; the worker applies it.
    let mut plan = None;
    for _ in 0..100 {
        let (_, body) = page(&server, Some(&approver), &at).await;
        if let Some(start) = body.find("href=\"/console/plans/") {
            let rest = &body[start + "href=\"".len()..];
            plan = rest.split('"').next().map(str::to_string);
        }
        if plan.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let plan = plan.expect("the request's page links its plan");
    let mut finished = false;
    for _ in 0..200 {
        let (status, body) = page_as(&server, "viewer", &plan).await;
        assert_eq!(status, 200, "{body}");
        if body.contains("every job has ended") {
            assert!(body.contains("succeeded"), "{body}");
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(finished, "the plan applied");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reach_explorer_draws_the_paths() {
    let server = Server::start(false).await;
    let (status, body) = page_as(
        &server,
        "viewer",
        "/console/reach?kind=group&name=Production%20Access%20Demo",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("What group Production Access Demo reaches"),
        "{body}"
    );
    // The picture is drawn on the server: an SVG with a box per hop, and the Mermaid text beside it.
    assert!(body.contains("<svg"), "{body}");
    assert!(body.contains("<rect"), "{body}");
    assert!(body.contains("flowchart LR"), "{body}");
    let (status, _) = page_as(&server, "viewer", "/console/reach?kind=planet&name=x").await;
    assert_eq!(status, 400);
    let (status, _) = page_as(&server, "auditor", "/console/reach").await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_made_by_hand_shows_on_the_drift_page_after_sync_and_check() {
    let server = Server::start(false).await;
    let admin = server.tokens["admin"].clone();
    let answer = server
        .sandbox
        .info
        .systems["okta"]
        .http_client()
        .unwrap()
        .post(format!("{}/hand-change", server.systems["okta"]))
        .json(&serde_json::json!({"op": "add", "user": "tom.baker@example.com", "resource": "group/Payments Oncall"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let synced = post_form(
        &server,
        &admin,
        "/console/connections/okta/sync",
        &[("full", "true")],
    )
    .await;
    assert_eq!(synced.status(), 303);
    assert_eq!(
        synced.headers()["location"],
        "/console/connections?synced=okta"
    );
    let checked = post_form(&server, &admin, "/console/drift/check", &[]).await;
    assert_eq!(checked.status(), 303, "{}", checked.text().await.unwrap());
    let (status, body) = page_as(&server, "viewer", "/console/drift?connection=okta").await;
    assert_eq!(status, 200);
    assert!(body.contains("tom.baker@example.com"), "{body}");
    // Only administrators check drift from the page.
    let refused = post_form(
        &server,
        &server.tokens["viewer"],
        "/console/drift/check",
        &[],
    )
    .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_action_is_asked_from_the_person_page_as_a_request() {
    let server = Server::start(false).await;
    let (_, page_body) = page_as(&server, "viewer", "/console/people/tom.baker@example.com").await;
    assert!(
        page_body.contains("/console/people/tom.baker%40example.com/action"),
        "{page_body}"
    );
    let requester = server.person_token(PERSON, &[Role::Requester]).await;
    let path = "/console/people/tom.baker@example.com/action";
    let asked = post_form(
        &server,
        &requester,
        path,
        &[
            ("connection", "okta"),
            ("who", "tom.baker@example.com"),
            ("verb", "reset_mfa"),
            ("reason", "lost phone"),
        ],
    )
    .await;
    assert_eq!(asked.status(), 303, "{}", asked.text().await.unwrap());
    let at = asked.headers()["location"].to_str().unwrap().to_string();
    // It is a request like any other, reviewed under its approval rule.
    let (status, body) = page(&server, Some(&requester), &at).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("reset-mfa tom.baker@example.com in okta"),
        "{body}"
    );
    assert!(body.contains("pending"), "{body}");
    let refused = post_form(
        &server,
        &requester,
        path,
        &[
            ("connection", "okta"),
            ("who", "tom.baker@example.com"),
            ("verb", "delete"),
            ("reason", "x"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_show_each_buckets_budget_as_the_page_and_the_api() {
    let server = Server::start(false).await;
    // The kit's sync of okta went through this server: Okta's headers announced each bucket's budget.
    let (status, answer) = server
        .call("viewer", "GET", "/api/v1/connections", None)
        .await;
    assert_eq!(status, 200, "{answer}");
    let okta = &answer["items"][0];
    assert_eq!(okta["name"], "okta", "{answer}");
    let buckets = okta["rate_limits"].as_array().expect("rate_limits");
    let names: Vec<&str> = buckets
        .iter()
        .filter_map(|b| b["bucket"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "in bucket order");
    let users = buckets
        .iter()
        .find(|b| b["bucket"] == "users")
        .unwrap_or_else(|| panic!("a full sync lists users: {answer}"));
    // The emulator's users bucket is Okta's 600 a minute; the sync spent some of this window.
    assert_eq!(users["limit"], 600, "{users}");
    let remaining = users["remaining"].as_u64().expect("remaining");
    assert!(remaining < 600, "{users}");
    assert!(users["reset"].is_string(), "{users}");
    assert_eq!(users["documented"], false, "announced, not documented");
    let (status, body) = page_as(&server, "viewer", "/console/connections").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Rate limits"), "{body}");
    assert!(body.contains("data-bucket=\"users\""), "{body}");
    assert!(body.contains(" of 600 left, resets "), "{body}");
}

/// Where each grant in a person's view comes from, by resource name: the API's `origin.text`.
async fn origins(server: &Server, email: &str) -> Vec<(String, String, String)> {
    let (status, person) = server
        .call("viewer", "GET", &format!("/api/v1/people/{email}"), None)
        .await;
    assert_eq!(status, 200, "{person}");
    assert!(person.get("policy_problem").is_none(), "{person}");
    person["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["grants"].as_array().cloned().unwrap_or_default())
        .map(|g| {
            (
                g["resource"].as_str().unwrap_or_default().to_string(),
                g["origin"]["kind"].as_str().unwrap_or_default().to_string(),
                g["origin"]["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_grant_says_policy_group_or_by_hand_in_the_page_and_the_api() {
    let server = Server::start(false).await;
    let find = |held: &[(String, String, String)], resource: &str| {
        held.iter()
            .find(|(r, _, _)| r == resource)
            .cloned()
            .unwrap_or_else(|| panic!("no {resource} in {held:?}"))
    };
    // Olivia is in Payments: the kit's payments-oncall policy wants her in Payments Oncall.
    let olivia = origins(&server, "olivia.smith@example.com").await;
    let (_, kind, text) = find(&olivia, "Payments Oncall");
    assert_eq!(
        (kind.as_str(), text.as_str()),
        ("policy", "policy payments-oncall")
    );
    // The demo user was put in Platform by hand (no policy names it); its apps come through the group.
    let demo = origins(&server, PERSON).await;
    let (_, kind, text) = find(&demo, "Platform");
    assert_eq!((kind.as_str(), text.as_str()), ("by_hand", "by hand"));
    let through_group: Vec<_> = demo.iter().filter(|(_, kind, _)| kind == "group").collect();
    assert!(!through_group.is_empty(), "{demo:?}");
    assert!(
        through_group
            .iter()
            .all(|(_, _, text)| text.starts_with("group ")),
        "a group grant names its group: {demo:?}"
    );
    let (status, body) = page_as(
        &server,
        "viewer",
        "/console/people/olivia.smith@example.com",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<span class=\"source source-policy\">policy payments-oncall</span>"),
        "{body}"
    );
    let (_, body) = page_as(&server, "viewer", &format!("/console/people/{PERSON}")).await;
    assert!(
        body.contains("<span class=\"source source-by_hand\">by hand</span>"),
        "{body}"
    );
    assert!(
        body.contains("<span class=\"source source-group\">group Platform</span>"),
        "{body}"
    );
}

/// A flow run by hand: two cards read the demo org (`set`, `person.get`), a branch on what they read,
/// and a last card that asks Okta to unlock a suspended user, which Okta refuses (E0000032).
pub const UNLOCK_FLOW: &str = r#"flow: check-and-unlock
description: Reads a person from the directory, then asks Okta to unlock their account.
trigger:
  manual: {}
inputs:
  who: {type: string, default: chen.wei@example.com}
steps:
  - id: note
    card: set
    with: {asked_for: "${inputs.who}"}
  - id: person
    card: person.get
    with: {who: "${inputs.who}"}
  - id: active
    if: "steps.person.active"
    then:
      - id: fine
        card: set
        with: {state: "${steps.person.status}"}
    else:
      - id: why
        card: set
        with: {state: "${steps.person.status}"}
  - id: unlock
    card: account.action
    with: {connection: okta, verb: unlock, who: "${inputs.who}"}
"#;

/// A flow Okta's events start: listed, but not run from the page.
const EVENT_FLOW: &str = "flow: welcome\ntrigger:\n  okta: {event: user_added_to_group, group: Platform}\nsteps:\n  - id: hello\n    card: set\n    with: {greeting: hello}\n";

async fn flows_server() -> Server {
    Server::start_with(false, |_, dir| {
        std::fs::create_dir_all(dir.join("flows")).unwrap();
        std::fs::write(dir.join("flows/unlock.yaml"), UNLOCK_FLOW).unwrap();
        std::fs::write(dir.join("flows/welcome.yaml"), EVENT_FLOW).unwrap();
    })
    .await
}

/// The CSRF-free form a bearer token may send: (name, value) pairs.
async fn run_now(server: &Server, role: &str, inputs: &[(&str, &str)]) -> reqwest::Response {
    post_form(
        server,
        &server.tokens[role],
        "/console/flows/check-and-unlock/run",
        inputs,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workflows_page_lists_the_flows_and_runs_one_card_by_card() {
    let server = flows_server().await;
    let (status, body) = page_as(&server, "viewer", "/console/flows").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("check-and-unlock"), "{body}");
    assert!(body.contains("Reads a person from the directory"), "{body}");
    assert!(body.contains("data-trigger=\"manual\""), "{body}");
    assert!(body.contains("data-trigger=\"okta\""), "{body}");
    assert!(body.contains("never"), "no run yet: {body}");
    // A viewer reads, but is offered no Run now.
    assert!(
        !body.contains("/console/flows/check-and-unlock/run"),
        "{body}"
    );
    // An administrator is offered Run now for the manual flow only, with its declared input.
    let (_, body) = page_as(&server, "admin", "/console/flows").await;
    assert!(
        body.contains("action=\"/console/flows/check-and-unlock/run\""),
        "{body}"
    );
    assert!(!body.contains("/console/flows/welcome/run"), "{body}");
    assert!(body.contains("name=\"input.who\""), "{body}");
    assert!(
        body.contains("placeholder=\"chen.wei@example.com\""),
        "{body}"
    );
    assert!(
        body.contains("<code class=\"details\">flows/unlock.yaml</code>"),
        "{body}"
    );

    // Run now (the input left empty takes its default): the page of the run, which has ended.
    let started = run_now(&server, "admin", &[("input.who", ""), ("key", "k1")]).await;
    assert_eq!(started.status(), 303, "{}", started.text().await.unwrap());
    let at = started.headers()["location"].to_str().unwrap().to_string();
    assert!(at.starts_with("/console/flows/runs/run-"), "{at}");
    let (status, run) = page_as(&server, "viewer", &at).await;
    assert_eq!(status, 200, "{run}");
    assert!(run.contains("<h1>Run of check-and-unlock</h1>"), "{run}");
    assert!(run.contains("id=\"run-state\">failed<"), "{run}");
    // Each card, in order, with what it read.
    let cards: Vec<&str> = run
        .split("data-path=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    // The branch is shown before the card that ran inside it, though recorded after it.
    assert_eq!(
        cards,
        ["note", "person", "active", "active/else/why", "unlock"],
        "{run}"
    );
    assert!(
        run.contains("&#34;asked_for&#34;: &#34;chen.wei@example.com&#34;"),
        "{run}"
    );
    assert!(
        run.contains("&#34;status&#34;: &#34;SUSPENDED&#34;"),
        "{run}"
    );
    // The branch's card is indented under its `if`.
    assert!(
        run.contains("class=\"card step depth-1 ok\" data-path=\"active/else/why\""),
        "{run}"
    );
    // The failed card says which system refused it and Okta's own code.
    let unlock = run.split("data-path=\"unlock\"").nth(1).unwrap();
    assert!(unlock.contains("data-state=\"failed\""), "{unlock}");
    assert!(
        unlock.contains(
            "<strong class=\"system\">okta</strong> answered <code class=\"code\">E0000032</code>"
        ),
        "{unlock}"
    );
    assert!(run.contains("id=\"run-error\""), "{run}");
    // The list shows it as the flow's last run and among the recent runs.
    let (_, body) = page_as(&server, "auditor", "/console/flows").await;
    assert!(body.contains(&at), "{body}");
    // The same form sent again (its key) is the same run, not a second one.
    let again = run_now(&server, "admin", &[("input.who", ""), ("key", "k1")]).await;
    assert_eq!(again.headers()["location"].to_str().unwrap(), at);
    // htmx polling a run gets the cards alone.
    let fragment = reqwest::Client::new()
        .get(server.url(&at))
        .bearer_auth(&server.tokens["viewer"])
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.contains("data-path=\"unlock\""), "{fragment}");
    assert!(!fragment.contains("<html"), "{fragment}");
    // An input the flow does not declare is refused, naming the ones it does.
    let refused = run_now(&server, "admin", &[("input.whom", "x")]).await;
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("no input `whom` (its inputs: who)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_reads_runs_but_may_not_start_one_and_others_may_not_read_them() {
    let server = flows_server().await;
    let refused = run_now(&server, "viewer", &[]).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("only administrators may run flows"),
    );
    let started = run_now(&server, "admin", &[("input.who", "tom.baker@example.com")]).await;
    assert_eq!(started.status(), 303);
    let at = started.headers()["location"].to_str().unwrap().to_string();
    for role in ["viewer", "auditor", "admin"] {
        let (status, _) = page_as(&server, role, &at).await;
        assert_eq!(status, 200, "{role}");
    }
    for role in ["requester", "approver", "operator:okta"] {
        let (status, body) = page_as(&server, role, &at).await;
        assert_eq!(status, 403, "{role}: {body}");
        let (status, _) = page_as(&server, role, "/console/flows").await;
        assert_eq!(status, 403, "{role}");
        let refused = run_now(&server, role, &[]).await;
        assert_eq!(refused.status(), 403, "{role}");
    }
    // The navigation offers Workflows only to those who may read it.
    let (_, body) = page_as(&server, "viewer", "/console/people").await;
    assert!(body.contains("href=\"/console/flows\""));
    let (_, body) = page_as(&server, "requester", "/console/requests").await;
    assert!(!body.contains("href=\"/console/flows\""));
    // The refusals are audited with the page's route.
    let refused: Vec<Value> = server
        .store
        .audit_page(Some("api.refused"), None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.details)
        .collect();
    assert!(
        refused
            .iter()
            .any(|d| d["route"] == "POST /console/flows/{name}/run" && d["status"] == 403),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_file_with_a_mistake_is_named_on_the_page_and_nothing_runs() {
    let server = Server::start_with(false, |_, dir| {
        std::fs::create_dir_all(dir.join("flows")).unwrap();
        std::fs::write(dir.join("flows/unlock.yaml"), UNLOCK_FLOW).unwrap();
        std::fs::write(
            dir.join("flows/broken.yaml"),
            "flow: broken\ntrigger: {manual: {}}\nsteps:\n  - id: a\n    card: no.such.card\n",
        )
        .unwrap();
    })
    .await;
    let (status, body) = page_as(&server, "viewer", "/console/flows").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("The flow files have mistakes"), "{body}");
    assert!(
        body.contains("broken.yaml:5:"),
        "the mistake's place: {body}"
    );
    let refused = run_now(&server, "admin", &[]).await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("no flow runs until they are fixed")
    );
}
