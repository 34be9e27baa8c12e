//! A grantflow.yaml for a running sandbox, from the connection details the
//! sandbox publishes (its info file): each system a connection, its
//! credentials in owner-only files, and the demo's reachability data. Its
//! services become flows' settings instead: the 1Password Connect emulator
//! an HTTP connection, the SMTP sink the email card's server (`flows.smtp`),
//! their secrets in owner-only files too.

use grantflow_sandbox::SandboxInfo;
use grantflow_service::config::{NewConnection, new_config};
use std::collections::BTreeMap;
use std::path::Path;

/// `settings` adds options to the connection of a kind (e.g. a short Jira timeout for the demo).
pub fn for_sandbox(
    info: &SandboxInfo,
    base: &Path,
    settings: &BTreeMap<&str, serde_json::Map<String, serde_json::Value>>,
) -> anyhow::Result<String> {
    let directory = info
        .systems
        .iter()
        .find(|(_, system)| system.kind == "okta")
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| "okta".to_string());
    let connections: Vec<NewConnection> = info
        .systems
        .iter()
        .map(|(name, system)| NewConnection {
            name: name.clone(),
            kind: system.kind.clone(),
            base_url: system.base_url.clone(),
            // By convention a connector's secret settings are named like the sandbox's credentials.
            credentials: system
                .connection_credentials()
                .into_iter()
                .map(|(key, value)| (key, value.into()))
                .collect(),
            ca_certificate: system.ca_certificate.clone(),
            settings: {
                let mut merged = system.settings.clone();
                merged.extend(
                    settings
                        .get(system.kind.as_str())
                        .cloned()
                        .unwrap_or_default(),
                );
                merged
            },
        })
        .collect();
    let mut extra = serde_json::Map::new();
    if info.systems.values().any(|s| s.kind == "datadog") {
        extra.insert("reachability".into(), demo_reachability(base)?);
    }
    if !info.services.is_empty() {
        extra.insert("flows".into(), flow_connections(info, base)?);
    }
    new_config(
        &connections,
        &directory,
        base,
        extra,
        "grantflow configuration for a local sandbox (grantflow sandbox up).",
    )
}

/// `flows: {http_connections: …}`: one HTTP connection per sandbox service, named like the service, allowed to
/// reach its host and port only, and authenticated with its token (written owner-only, like the connections'
/// credentials, and referred to by file so the YAML holds no secret).
fn flow_connections(info: &SandboxInfo, base: &Path) -> anyhow::Result<serde_json::Value> {
    let mut connections = serde_json::Map::new();
    let mut smtp = None;
    for (name, service) in &info.services {
        if service.kind == "smtp" {
            smtp = Some(smtp_connection(name, service, base)?);
            continue;
        }
        let url = url::Url::parse(&service.base_url)
            .map_err(|e| anyhow::anyhow!("service {name}: base_url is not a URL: {e}"))?;
        let host = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => anyhow::bail!("service {name}: base_url {} has no host", service.base_url),
        };
        let mut connection = serde_json::Map::new();
        connection.insert("allowed_hosts".into(), serde_json::json!([host]));
        // Flows name the vault's paths (`/v1/vaults/…`), not its address.
        connection.insert("base_url".into(), serde_json::json!(service.base_url));
        if let Some(token) = service.credentials.get("token") {
            let file = format!(".grantflow/flows.{name}.token");
            grantflow_service::files::write_private(&base.join(&file), token.as_bytes())
                .map_err(|e| anyhow::anyhow!("writing {file} for service {name}: {e}"))?;
            connection.insert(
                "auth".into(),
                serde_json::json!({ "bearer": { "token": { "file": file } } }),
            );
        }
        connections.insert(name.clone(), connection.into());
    }
    let mut flows = serde_json::Map::new();
    if !connections.is_empty() {
        flows.insert("http_connections".into(), connections.into());
    }
    if let Some(smtp) = smtp {
        flows.insert("smtp".into(), smtp);
    }
    Ok(flows.into())
}

/// `flows: {smtp: …}` for the sandbox's SMTP sink: its loopback address without TLS (the sink offers none,
/// and grantflow allows plain SMTP only to this machine), its account, and its password in an owner-only file.
fn smtp_connection(
    name: &str,
    service: &grantflow_sandbox::ServiceInfo,
    base: &Path,
) -> anyhow::Result<serde_json::Value> {
    let setting = |key: &str| {
        service
            .settings
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("service {name}: no `{key}` setting"))
    };
    let mut smtp = serde_json::json!({
        "host": setting("smtp_host")?,
        "port": setting("smtp_port")?,
        "tls": "none",
        "from": setting("from")?,
    });
    if let (Some(username), Some(password)) = (
        service.credentials.get("username"),
        service.credentials.get("password"),
    ) {
        let file = format!(".grantflow/flows.{name}.password");
        grantflow_service::files::write_private(&base.join(&file), password.as_bytes())
            .map_err(|e| anyhow::anyhow!("writing {file} for service {name}: {e}"))?;
        smtp["username"] = username.clone().into();
        smtp["password"] = serde_json::json!({ "file": file });
    }
    Ok(smtp)
}

/// The sandbox's demo organisation comes with production-reach data: write it under `reach/` and
/// point a `reachability:` section at it.
fn demo_reachability(base: &Path) -> anyhow::Result<serde_json::Value> {
    grantflow_sandbox::demo_reach::write_files(&base.join("reach"))?;
    let mut section: serde_json::Value =
        serde_saphyr::from_str(grantflow_sandbox::demo_reach::CONFIG)
            .map_err(|e| anyhow::anyhow!("the demo's reachability settings: {e}"))?;
    if let Some(sources) = section.get_mut("sources").and_then(|s| s.as_object_mut()) {
        sources.insert("root".into(), "reach".into());
    }
    Ok(section)
}

#[cfg(test)]
mod tests {
    //! A sandbox's services become flows' HTTP connections (not connector connections), and the file that
    //! results is one grantflow loads, with the token in an owner-only file and nowhere in the YAML.

    use super::*;
    use grantflow_sandbox::SystemInfo;

    fn system(kind: &str, base_url: &str, token: &str) -> SystemInfo {
        SystemInfo {
            kind: kind.into(),
            base_url: base_url.into(),
            admin_url: format!("{base_url}/__sandbox"),
            credentials: [("token".to_string(), token.to_string())].into(),
            settings: serde_json::Map::new(),
            ca_certificate: None,
        }
    }

    #[test]
    fn services_become_flow_http_connections_with_the_token_in_a_private_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = SandboxInfo {
            systems: [(
                "okta".to_string(),
                system("okta", "http://127.0.0.1:41001", "00okta-token"),
            )]
            .into(),
            services: [(
                "vault".to_string(),
                system("vault", "http://127.0.0.1:41002", "eyJvault-token"),
            )]
            .into(),
        };
        let text = for_sandbox(&info, dir.path(), &BTreeMap::new()).expect("config");
        assert!(!text.contains("eyJvault-token"), "{text}");
        let path = dir.path().join("grantflow.yaml");
        std::fs::write(&path, &text).expect("write");
        let config = grantflow_service::config::Config::load(&path).expect("grantflow loads it");
        assert_eq!(
            config
                .connections
                .keys()
                .map(|name| name.0.as_str())
                .collect::<Vec<_>>(),
            ["okta"],
            "a service is not a connector connection"
        );
        let vault = &config.flows.http_connections["vault"];
        assert_eq!(vault.allowed_hosts, ["127.0.0.1:41002"]);
        let Some(grantflow_workflows::HttpAuth::Bearer { token }) = &vault.auth else {
            panic!("bearer auth expected: {:?}", vault.auth);
        };
        let file = dir.path().join(token.file.as_ref().expect("a token file"));
        assert_eq!(
            std::fs::read_to_string(&file).expect("token file"),
            "eyJvault-token"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
        }
    }

    #[test]
    fn the_smtp_sink_becomes_the_email_cards_server_with_its_password_in_a_private_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = system("smtp", "http://127.0.0.1:41003", "unused");
        sink.credentials = [
            ("username".to_string(), "grantflow".to_string()),
            ("password".to_string(), "smtp-secret-password".to_string()),
        ]
        .into();
        sink.settings = serde_json::json!({"smtp_host": "127.0.0.1", "smtp_port": 41025, "from": "grantflow@example.com"})
            .as_object()
            .cloned()
            .expect("object");
        let info = SandboxInfo {
            systems: [(
                "okta".to_string(),
                system("okta", "http://127.0.0.1:41001", "00okta-token"),
            )]
            .into(),
            services: [("smtp".to_string(), sink)].into(),
        };
        let text = for_sandbox(&info, dir.path(), &BTreeMap::new()).expect("config");
        assert!(!text.contains("smtp-secret-password"), "{text}");
        let path = dir.path().join("grantflow.yaml");
        std::fs::write(&path, &text).expect("write");
        let config = grantflow_service::config::Config::load(&path).expect("grantflow loads it");
        assert!(config.flows.http_connections.is_empty());
        let smtp = config.flows.smtp.expect("flows.smtp");
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.tls),
            ("127.0.0.1", Some(41025), grantflow_workflows::SmtpTls::None)
        );
        assert_eq!(smtp.username.as_deref(), Some("grantflow"));
        let file = dir
            .path()
            .join(smtp.password.and_then(|p| p.file).expect("a password file"));
        assert_eq!(
            std::fs::read_to_string(&file).expect("password file"),
            "smtp-secret-password"
        );
    }

    #[test]
    fn without_services_no_flows_section_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = SandboxInfo {
            systems: [(
                "okta".to_string(),
                system("okta", "http://127.0.0.1:41001", "00okta-token"),
            )]
            .into(),
            services: BTreeMap::new(),
        };
        let text = for_sandbox(&info, dir.path(), &BTreeMap::new()).expect("config");
        assert!(!text.contains("flows"), "{text}");
    }
}
