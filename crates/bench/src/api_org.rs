//! The organisation of the API load benchmark (`crates/bench/api-load.sh`):
//! the sandbox's demo organisation plus `people` generated people in Okta,
//! spread over the demo's groups, written as an organisation file for
//! `grantflow sandbox up --org`.

use std::path::Path;

use anyhow::Context as _;
use grantflow_sandbox::okta::{SeedStatus, SeedUser};

const DEPARTMENTS: [&str; 5] = ["Engineering", "Platform", "Payments", "Sales", "Finance"];
const TITLES: [&str; 4] = ["Engineer", "Senior Engineer", "Analyst", "Manager"];
const CITIES: [&str; 6] = ["Berlin", "London", "Madrid", "Paris", "Tokyo", "Austin"];

/// `person<i>@example.com`, for i in 0..people (the load scripts ask for them by that name).
pub fn write(people: usize, out: &Path) -> anyhow::Result<()> {
    let mut org = grantflow_sandbox::demo_org();
    for i in 0..people {
        let department = DEPARTMENTS[i % DEPARTMENTS.len()];
        let login = format!("person{i}@example.com");
        org.okta.users.push(SeedUser {
            login: login.clone(),
            email: None,
            first_name: format!("Person{i}"),
            last_name: department.to_string(),
            department: Some(department.to_string()),
            title: Some(TITLES[(i / 7) % TITLES.len()].to_string()),
            manager: None,
            city: Some(CITIES[(i / 3) % CITIES.len()].to_string()),
            employee_number: Some(format!("G{i:06}")),
            employment_status: Some("FTE".into()),
            // One in 50 suspended: drift has something to find.
            status: if i % 50 == 49 {
                SeedStatus::Suspended
            } else {
                SeedStatus::Active
            },
            password: None,
            extra: Default::default(),
        });
        // Every person is in their department's group where the demo has one.
        if let Some(group) = org.okta.groups.iter_mut().find(|g| g.name == department) {
            group.members.push(login);
        }
    }
    let text = serde_json::to_string(&org).context("serialising the organisation")?;
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} people in Okta ({} generated), written to {}",
        org.okta.users.len(),
        people,
        out.display()
    );
    Ok(())
}
