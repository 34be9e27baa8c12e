//! `grantflow demo`, as a person on a fresh machine runs it.

#[test]
fn the_demo_ends_with_the_demo_user_holding_the_three_apps() {
    let stdout = crate::testkit::demo_stdout(&["--quiet"]);
    let apps = stdout
        .lines()
        .skip_while(|l| !l.starts_with("okta-demo-user@example.com in Okta now:"))
        .find(|l| l.trim_start().starts_with("apps:"))
        .expect("the demo shows the user's apps");
    for app in [
        "Checkout Production Access",
        "Graph Connector Console",
        "Production Monitors",
    ] {
        assert!(apps.contains(app), "{app} missing: {apps}");
    }
    assert!(
        stdout.contains("+ group \"Production Access Demo\" member"),
        "{stdout}"
    );
    // The review is person by person: the person's name and work email, each system's account beneath.
    let under_person: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Okta Demo <okta-demo-user@example.com>")
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    assert!(
        under_person
            .iter()
            .any(|l| l.contains("+ group \"Production Access Demo\" member")),
        "the demo user's change is grouped under them: {stdout}"
    );
    assert!(
        stdout.contains("Planning again: 0 change(s) left."),
        "{stdout}"
    );
    assert!(stdout.contains("chain intact"), "{stdout}");
}
