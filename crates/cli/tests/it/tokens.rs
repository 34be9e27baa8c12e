//! `grantflow token create` prints the token once; `token list` and the
//! audit trail never show it; `token revoke` marks it revoked.

use std::process::Command;

use crate::testkit::BIN;

fn grantflow(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let database = format!("sqlite://{}", dir.join("grantflow.db").display());
    let output = Command::new(BIN)
        .args(args)
        .args(["--database", &database])
        .current_dir(dir)
        .env_remove("GRANTFLOW_CONFIG")
        .env_remove("GRANTFLOW_DATABASE")
        .output()
        .expect("grantflow runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_token_is_shown_once_and_never_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let (code, stdout, stderr) = grantflow(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--role",
            "approver",
            "--role",
            "operator:okta",
            "--expires-in",
            "30d",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let token = stdout.trim().to_string();
    assert!(token.starts_with("gft_") && token.len() > 50, "{token}");
    assert!(stderr.contains("shown this once"), "{stderr}");
    let id = token.split('_').nth(1).expect("id").to_string();

    let (code, list, _) = grantflow(dir.path(), &["token", "list"]);
    assert_eq!(code, 0, "{list}");
    assert!(
        list.contains(&id) && list.contains("approver, operator:okta") && list.contains("active"),
        "{list}"
    );
    let secret = token.rsplit_once('_').expect("secret").1;
    assert!(
        !list.contains(secret),
        "token list shows the secret:\n{list}"
    );

    let (code, _, stderr) = grantflow(dir.path(), &["token", "revoke", &id]);
    assert_eq!(code, 0, "{stderr}");
    let (_, list, _) = grantflow(dir.path(), &["token", "list"]);
    assert!(list.contains("revoked"), "{list}");

    let (code, export, _) = grantflow(dir.path(), &["audit", "export"]);
    assert_eq!(code, 0);
    assert!(
        export.contains("token.created") && export.contains("token.revoked"),
        "{export}"
    );
    assert!(!export.contains(secret), "the audit trail holds the secret");

    let (code, _, stderr) = grantflow(
        dir.path(),
        &["token", "create", "--name", "x", "--role", "root"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown role \"root\""), "{stderr}");
}
