//! The organisation file: the demo org's scenario shape and YAML error reporting.

use super::common::*;

#[test]
fn demo_org_has_the_scenario_shape() {
    let org = demo_org();
    let pad = org
        .okta
        .groups
        .iter()
        .find(|g| g.name == "Production Access Demo")
        .unwrap();
    assert!(
        !pad.members
            .iter()
            .any(|m| m == "okta-demo-user@example.com")
    );
    assert_eq!(
        pad.apps,
        [
            "Checkout Production Access",
            "Graph Connector Console",
            "Production Monitors"
        ]
    );
    let demo = org
        .okta
        .users
        .iter()
        .find(|u| u.login == "okta-demo-user@example.com")
        .unwrap();
    assert_eq!(
        (demo.department.as_deref(), demo.title.as_deref()),
        (Some("Platform"), Some("Site Reliability Engineer"))
    );
    assert!(org.okta.users.len() >= 30);
}

#[test]
fn load_org_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("org.yaml");
    std::fs::write(&p, "okta:\n  users:\n    - login: a@example.com\n      firstName: A\n      lastName: B\n      shoeSize: 9\n").unwrap();
    let err = format!("{:#}", grantflow_sandbox::load_org(&p).unwrap_err());
    assert!(err.contains("shoeSize"), "{err}");
    assert!(err.contains("line 6 column 7"), "{err}");
    std::fs::write(&p, "okta: [unclosed\n").unwrap();
    assert!(grantflow_sandbox::load_org(&p).is_err());
}
