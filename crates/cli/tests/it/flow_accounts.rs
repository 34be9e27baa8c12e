//! Account lifecycle cards in a flow, through the real binary against the sandbox: `account.create` makes an
//! Okta user that did not exist (its temporary password handed to the run once, stored nowhere) and a second
//! run finds it there instead of creating it again; `account.retire` suspends an existing user.

use crate::testkit::Workspace;

const JOINER: &str = r#"
flow: joiner-account
trigger:
  manual: {}
inputs:
  login: {type: string}
steps:
  - id: account
    card: account.create
    with:
      connection: okta
      login: "${inputs.login}"
      attributes: {firstName: Nia, lastName: Okafor, email: "${inputs.login}"}
      temporary_password: true
  - id: done
    return: {changed: "${steps.account.changed}"}
"#;

const LEAVER: &str = r#"
flow: leaver-account
trigger:
  manual: {}
inputs:
  who: {type: string}
steps:
  - id: account
    card: account.retire
    with: {connection: okta, who: "${inputs.who}", mode: suspend}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn account_cards_create_once_and_retire() {
    let workspace = Workspace::start(None).await;
    std::fs::create_dir_all(workspace.path("flows")).unwrap();
    std::fs::write(workspace.path("flows/joiner-account.yaml"), JOINER).unwrap();
    std::fs::write(workspace.path("flows/leaver-account.yaml"), LEAVER).unwrap();
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let login = "nia.okafor@example.com";
    let missing = workspace
        .okta_get(&format!(
            "/api/v1/users?search=profile.login%20eq%20%22{login}%22"
        ))
        .await;
    assert_eq!(missing.as_array().map(Vec::len), Some(0), "{missing}");

    let ran = workspace.run(&[
        "flow",
        "run",
        "joiner-account",
        "-i",
        &format!("login={login}"),
        "--json",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let run: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["output"]["changed"], true, "{run}");
    let user = workspace.okta_get(&format!("/api/v1/users/{login}")).await;
    assert_eq!(user["profile"]["firstName"], "Nia", "{user}");
    assert_eq!(
        user["status"], "PASSWORD_EXPIRED",
        "a temporary password: {user}"
    );

    // A second run finds the account there: nothing is created twice.
    let again = workspace.run(&[
        "flow",
        "run",
        "joiner-account",
        "-i",
        &format!("login={login}"),
        "--json",
    ]);
    assert_eq!(again.code, 0, "{}", again.all());
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["output"]["changed"], false, "{again}");
    let found = workspace
        .okta_get(&format!(
            "/api/v1/users?search=profile.login%20eq%20%22{login}%22"
        ))
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");

    // The history keeps no temporary password.
    let shown = workspace.run(&["flow", "run-show", run["id"].as_str().unwrap(), "--json"]);
    assert!(shown.stdout.contains("[secret]"), "{}", shown.stdout);

    let retired = workspace.run(&[
        "flow",
        "run",
        "leaver-account",
        "-i",
        "who=okta-demo-user@example.com",
        "--json",
    ]);
    assert_eq!(retired.code, 0, "{}", retired.all());
    let user = workspace
        .okta_get("/api/v1/users/okta-demo-user@example.com")
        .await;
    assert_eq!(user["status"], "SUSPENDED", "{user}");
}
