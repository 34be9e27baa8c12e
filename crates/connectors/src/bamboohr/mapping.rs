//! BambooHR's employee JSON to the common model: each employee, current or former, is one account keyed by
//! BambooHR's employee id, matched to a person by work email like every other system's account. Its
//! attributes are the HRIS facts (see [`grantflow_model::HRIS_ATTRIBUTE`]):
//!
//! | attribute | BambooHR field |
//! |---|---|
//! | `employee_id` | `id` |
//! | `employee_number` | `employeeNumber` |
//! | `first_name`, `last_name`, `preferred_name` | `firstName`, `lastName`, `preferredName` |
//! | `status` | `status` (`Active` / `Inactive`) |
//! | `employment_status` | `employmentStatus` (Full-Time, Contractor, Terminated, …) |
//! | `start_date` | `hireDate` (`YYYY-MM-DD`) |
//! | `end_date` | `terminationDate` (absent while there is none; BambooHR writes `0000-00-00`) |
//! | `department`, `division`, `location` | the same names |
//! | `title` | `jobTitle` (or the OpenAPI alias `jobTitleName`) |
//! | `manager_id` | `supervisorEId` (or `reportsToId`): the supervisor's employee id |
//! | `manager_name` | `supervisor` (or `reportsToName`) |
//! | `manager_email` | the supervisor's work email, when the supervisor is among the employees read |
//!
//! Empty values are left out, so `has(person.hris.end_date)` reads as "an end date is known".

use grantflow_model::{Account, LifecycleState};
use serde_json::{Map, Value};

use super::client::id_of;

/// A field's text: strings trimmed, numbers written out; `None` for empty, null and BambooHR's empty date.
fn field(employee: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let text = match employee.get(*name)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!text.is_empty() && text != "0000-00-00").then_some(text)
    })
}

/// `Inactive` employees have left; anyone else (`Active`, or no status readable) is active.
fn state(status: Option<&str>) -> LifecycleState {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("inactive") => LifecycleState::Deprovisioned,
        _ => LifecycleState::Active,
    }
}

/// One employee; `None` for an object without an id.
pub fn employee(employee: &Value) -> Option<Account> {
    let id = id_of(employee)?;
    let first = field(employee, &["firstName"]);
    let last = field(employee, &["lastName"]);
    let email = field(employee, &["workEmail"]);
    let status = field(employee, &["status"]);
    let display_name = field(employee, &["displayName"])
        .or_else(|| {
            let joined = [
                field(employee, &["preferredName"]).or(first.clone()),
                last.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            (!joined.is_empty()).then_some(joined)
        })
        .unwrap_or_else(|| id.clone());
    let mut attributes = Map::new();
    attributes.insert("employee_id".into(), Value::String(id.clone()));
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            attributes.insert(key.to_string(), Value::String(value));
        }
    };
    put("employee_number", field(employee, &["employeeNumber"]));
    put("first_name", first);
    put("last_name", last);
    put("preferred_name", field(employee, &["preferredName"]));
    put("status", status.clone());
    put("employment_status", field(employee, &["employmentStatus"]));
    put("start_date", field(employee, &["hireDate"]));
    put("end_date", field(employee, &["terminationDate"]));
    put("department", field(employee, &["department"]));
    put("division", field(employee, &["division"]));
    put("location", field(employee, &["location"]));
    put("title", field(employee, &["jobTitle", "jobTitleName"]));
    put(
        "manager_id",
        field(employee, &["supervisorEId", "reportsToId"]),
    );
    put(
        "manager_name",
        field(employee, &["supervisor", "reportsToName"]),
    );
    Some(Account {
        login: email.clone().unwrap_or_else(|| id.clone()),
        id,
        email,
        display_name,
        state: state(status.as_deref()),
        status: status.unwrap_or_default(),
        attributes,
    })
}

/// Adds `manager_email` to each account whose supervisor is among `accounts`.
pub fn resolve_managers(accounts: &mut [Account]) {
    let emails: std::collections::HashMap<String, String> = accounts
        .iter()
        .filter_map(|a| Some((a.id.clone(), a.email.clone()?)))
        .collect();
    for account in accounts.iter_mut() {
        let manager = account
            .attributes
            .get("manager_id")
            .and_then(Value::as_str)
            .and_then(|id| emails.get(id))
            .cloned();
        match manager {
            Some(email) => {
                account
                    .attributes
                    .insert("manager_email".into(), Value::String(email));
            }
            None => {
                account.attributes.remove("manager_email");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_employee_becomes_an_account_with_its_hris_facts() {
        let a = employee(&json!({
            "id": "40",
            "employeeNumber": "1040",
            "firstName": "Lena",
            "lastName": "Fischer",
            "preferredName": null,
            "displayName": "Lena Fischer",
            "workEmail": "lena.fischer@example.com",
            "status": "Active",
            "employmentStatus": "Full-Time",
            "hireDate": "2024-03-04",
            "terminationDate": "0000-00-00",
            "department": "Engineering",
            "division": "Product",
            "jobTitle": "Senior Engineer",
            "location": "Berlin",
            "supervisorEId": "7",
            "supervisor": "Ortiz, Sam"
        }))
        .expect("maps");
        assert_eq!(a.id, "40");
        assert_eq!(a.login, "lena.fischer@example.com");
        assert_eq!(a.email.as_deref(), Some("lena.fischer@example.com"));
        assert_eq!(a.display_name, "Lena Fischer");
        assert_eq!(a.status, "Active");
        assert_eq!(a.state, LifecycleState::Active);
        assert_eq!(
            Value::Object(a.attributes),
            json!({
                "employee_id": "40",
                "employee_number": "1040",
                "first_name": "Lena",
                "last_name": "Fischer",
                "status": "Active",
                "employment_status": "Full-Time",
                "start_date": "2024-03-04",
                "department": "Engineering",
                "division": "Product",
                "location": "Berlin",
                "title": "Senior Engineer",
                "manager_id": "7",
                "manager_name": "Ortiz, Sam"
            }),
            "the empty termination date and null preferred name are left out"
        );
    }

    #[test]
    fn openapi_names_former_employees_and_managers_resolve() {
        let mut accounts: Vec<Account> = [
            json!({"id": 7, "firstName": "Sam", "lastName": "Ortiz", "workEmail": "sam@example.com", "status": "Active"}),
            json!({"id": "9", "firstName": "Kai", "lastName": "Berg", "status": "Inactive",
                   "terminationDate": "2026-10-31", "jobTitleName": "Analyst", "reportsToId": "7"}),
            json!({"id": "10", "reportsToId": "404"}),
            json!({"firstName": "no id"}),
        ]
        .iter()
        .filter_map(employee)
        .collect();
        assert_eq!(accounts.len(), 3, "an employee without an id is skipped");
        resolve_managers(&mut accounts);
        let kai = &accounts[1];
        assert_eq!(kai.state, LifecycleState::Deprovisioned);
        assert_eq!(kai.email, None);
        assert_eq!(kai.login, "9", "without a work email the login is the id");
        assert_eq!(kai.attributes["end_date"], "2026-10-31");
        assert_eq!(kai.attributes["title"], "Analyst");
        assert_eq!(kai.attributes["manager_email"], "sam@example.com");
        assert_eq!(accounts[0].id, "7");
        assert_eq!(accounts[0].display_name, "Sam Ortiz");
        assert!(!accounts[2].attributes.contains_key("manager_email"));
        assert_eq!(accounts[2].display_name, "10");
    }
}
