//! The committed docs/openapi.json is the document the code generates, and
//! the server serves it.

use crate::kit::Server;

fn committed() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_document_matches_the_code() {
    let generated =
        serde_json::to_string_pretty(&grantflow_server::openapi()).expect("json") + "\n";
    let path = committed();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/openapi.json differs from the API the code defines; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p grantflow-server --test it -- openapi` and commit it"
    );
}

#[test]
fn every_operation_documents_its_problems_and_bearer_security() {
    let document = serde_json::to_value(grantflow_server::openapi()).expect("json");
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 17, "{}", paths.len());
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("item") {
            for status in ["400", "401", "403", "500"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path} does not document {status}"
                );
            }
            assert_eq!(
                operation["security"][0]["bearer"],
                serde_json::json!([]),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        paths["/api/v1/plans"]["post"]["responses"]["415"]["$ref"],
        "#/components/responses/UnsupportedMediaType"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_serves_the_document() {
    let server = Server::start(false).await;
    let served: serde_json::Value = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(
        served,
        serde_json::to_value(grantflow_server::openapi()).expect("json")
    );
}
