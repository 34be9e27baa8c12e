//! The HTML the emulator's `/authorize` answers a browser with: the sign-in page (username and password,
//! posted to `/login/signin` with the sign-in's server-side transaction id) and the error page shown when
//! the request cannot be sent back to the app (unknown client, unregistered redirect URI, expired sign-in).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where the sign-in form posts.
pub const SIGN_IN_PATH: &str = "/login/signin";

/// The form field that carries the sign-in's transaction id.
pub const TRANSACTION_FIELD: &str = "transaction";

/// The sign-in page for `transaction`, with `username` filled in and `problem` shown above the form.
pub fn sign_in(
    status: StatusCode,
    transaction: &str,
    app_label: &str,
    username: &str,
    problem: Option<&str>,
) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(p)))
        .unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Sign In</title></head>\n<body>\n\
         <main>\n<h1>Sign In</h1>\n<p>to {app}</p>\n{problem}\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"{field}\" value=\"{transaction}\">\n\
         <label>Username <input type=\"text\" name=\"username\" value=\"{username}\" autocomplete=\"username\"></label>\n\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
         <button type=\"submit\">Sign In</button>\n</form>\n</main>\n</body>\n</html>\n",
        app = escape(app_label),
        action = SIGN_IN_PATH,
        field = TRANSACTION_FIELD,
        transaction = escape(transaction),
        username = escape(username),
    );
    html(status, body)
}

/// A page for an error the app cannot be told about by redirect: OAuth's error code and what went wrong.
pub fn error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Error</title></head>\n<body>\n\
         <main>\n<h1>{error}</h1>\n<p id=\"error-description\">{description}</p>\n</main>\n</body>\n</html>\n",
        error = escape(error),
        description = escape(description),
    );
    html(status, body)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // A page holding a sign-in transaction must not be cached or framed.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_out_of_their_attribute() {
        assert_eq!(
            escape("\"><script>x</script>"),
            "&quot;&gt;&lt;script&gt;x&lt;/script&gt;"
        );
    }
}
