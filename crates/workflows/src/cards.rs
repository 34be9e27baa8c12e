//! The cards a step may use: what each takes and gives, and what kind of effect it has. The checker reads
//! this table to find unknown inputs and type mismatches before anything runs.

use serde::Serialize;
use serde_json::Value as Json;

/// The type of a card's input or output field, as the checker compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    Any,
    Text,
    Number,
    Boolean,
    Object,
    List,
}

impl Type {
    pub fn parse(text: &str) -> Option<Type> {
        Some(match text {
            "any" => Type::Any,
            "string" | "text" => Type::Text,
            "number" | "integer" => Type::Number,
            "boolean" | "bool" => Type::Boolean,
            "object" => Type::Object,
            "list" | "array" => Type::List,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Type::Any => "any value",
            Type::Text => "text",
            Type::Number => "a number",
            Type::Boolean => "a boolean",
            Type::Object => "an object",
            Type::List => "a list",
        }
    }

    /// Whether a value of type `self` may be given where `wanted` is expected. Text takes numbers and
    /// booleans (they are written into it); nothing else converts.
    pub fn fits(self, wanted: Type) -> bool {
        self == wanted
            || self == Type::Any
            || wanted == Type::Any
            || (wanted == Type::Text && matches!(self, Type::Number | Type::Boolean))
    }

    pub fn of(value: &Json) -> Type {
        match value {
            Json::Null => Type::Any,
            Json::Bool(_) => Type::Boolean,
            Json::Number(_) => Type::Number,
            Json::String(_) => Type::Text,
            Json::Array(_) => Type::List,
            Json::Object(_) => Type::Object,
        }
    }
}

/// What running a card does to the world, which decides how a resumed run treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Computes from its inputs: run again on resume.
    Pure,
    /// Reads grantflow's view of the systems: run again on resume.
    Read,
    /// Changes a system through a plan and the engine: resumed by applying the same plan, whose jobs
    /// observe before retrying.
    Change,
    /// A custom HTTP call: resumed by sending it again with the same `Idempotency-Key`.
    Http,
    /// A message to people (a chat channel, an email): recorded before it is sent; a run resumed after the
    /// send may send it again (a sent message cannot be observed).
    Notify,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Field {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: Type,
    pub required: bool,
    /// Never recorded: kept in memory for the steps that use it.
    pub secret: bool,
}

const fn req(name: &'static str, kind: Type) -> Field {
    Field {
        name,
        kind,
        required: true,
        secret: false,
    }
}

const fn opt(name: &'static str, kind: Type) -> Field {
    Field {
        name,
        kind,
        required: false,
        secret: false,
    }
}

const fn secret(name: &'static str) -> Field {
    Field {
        name,
        kind: Type::Text,
        required: false,
        secret: true,
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Card {
    pub name: &'static str,
    pub summary: &'static str,
    pub effect: Effect,
    pub inputs: &'static [Field],
    pub outputs: &'static [Field],
    /// Takes any inputs beyond `inputs` (a `set` card's named values).
    pub open_inputs: bool,
    /// Gives outputs beyond `outputs` (its inputs, a helper flow's return).
    pub open_outputs: bool,
}

impl Card {
    pub fn input(&self, name: &str) -> Option<&Field> {
        self.inputs.iter().find(|f| f.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&Field> {
        self.outputs.iter().find(|f| f.name == name)
    }
}

/// What a connector-operation card gives: the plan that made the change and how it ended.
const CHANGE_OUTPUTS: &[Field] = &[
    req("plan", Type::Text),
    req("outcome", Type::Text),
    req("changed", Type::Boolean),
    opt("operations", Type::List),
];

const TARGET: Field = req("connection", Type::Text);

pub const CARDS: &[Card] = &[
    Card {
        name: "set",
        summary: "Computes named values (each a value or a template); its output is those values.",
        effect: Effect::Pure,
        inputs: &[],
        outputs: &[],
        open_inputs: true,
        open_outputs: true,
    },
    Card {
        name: "json.parse",
        summary: "Parses JSON text.",
        effect: Effect::Pure,
        inputs: &[req("text", Type::Text)],
        outputs: &[req("value", Type::Any)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "json.get",
        summary: "Reads a value at a JSON Pointer (`/a/0/b`) or dotted path (`a.0.b`); `found` says whether it is there.",
        effect: Effect::Pure,
        inputs: &[
            req("value", Type::Any),
            req("path", Type::Text),
            opt("default", Type::Any),
        ],
        outputs: &[req("value", Type::Any), req("found", Type::Boolean)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "text.template",
        summary: "Fills `{name}` placeholders of a text from `values`.",
        effect: Effect::Pure,
        inputs: &[req("text", Type::Text), opt("values", Type::Object)],
        outputs: &[req("text", Type::Text)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "date.add",
        summary: "A time (RFC 3339, default now) plus days, hours and minutes (negative to subtract).",
        effect: Effect::Pure,
        inputs: &[
            opt("at", Type::Text),
            opt("days", Type::Number),
            opt("hours", Type::Number),
            opt("minutes", Type::Number),
        ],
        outputs: &[req("at", Type::Text), req("date", Type::Text)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "list.filter",
        summary: "The items of a list for which a CEL condition over `item` holds.",
        effect: Effect::Pure,
        inputs: &[req("items", Type::List), req("where", Type::Text)],
        outputs: &[req("items", Type::List), req("count", Type::Number)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "person.get",
        summary: "A person from the directory (by email, login or id): profile, HR facts, accounts in every system.",
        effect: Effect::Read,
        inputs: &[req("who", Type::Text)],
        outputs: &[
            req("email", Type::Text),
            req("login", Type::Text),
            req("name", Type::Text),
            req("status", Type::Text),
            req("state", Type::Text),
            req("active", Type::Boolean),
            req("profile", Type::Object),
            opt("manager", Type::Text),
            req("accounts", Type::List),
        ],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "groups.of",
        summary: "The groups (or other resources) an account holds in one connection.",
        effect: Effect::Read,
        inputs: &[TARGET, req("who", Type::Text), opt("kind", Type::Text)],
        outputs: &[req("groups", Type::List), req("names", Type::List)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "group.members",
        summary: "The members of a group (or other resource) in one connection.",
        effect: Effect::Read,
        inputs: &[TARGET, req("group", Type::Text), opt("kind", Type::Text)],
        outputs: &[
            req("members", Type::List),
            req("logins", Type::List),
            req("count", Type::Number),
        ],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "grant.add",
        summary: "Gives an account a resource (a group, team, channel, role, app) with an entitlement.",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("who", Type::Text),
            req("resource", Type::Text),
            opt("kind", Type::Text),
            opt("entitlement", Type::Text),
        ],
        outputs: CHANGE_OUTPUTS,
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "grant.remove",
        summary: "Takes a resource away from an account.",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("who", Type::Text),
            req("resource", Type::Text),
            opt("kind", Type::Text),
            opt("entitlement", Type::Text),
        ],
        outputs: CHANGE_OUTPUTS,
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "account.action",
        summary: "An account action (activate, suspend, unsuspend, deactivate, reset_password, reset_mfa, clear_sessions, …), an app assignment or a group push.",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("verb", Type::Text),
            req("who", Type::Text),
            opt("app", Type::Text),
            opt("options", Type::Object),
        ],
        outputs: &[
            req("plan", Type::Text),
            req("outcome", Type::Text),
            req("changed", Type::Boolean),
            opt("operations", Type::List),
            secret("temporary_password"),
        ],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "account.create",
        summary: "Creates an account where it is missing (found by login, so never twice): its attributes, activated or staged, the activation emailed or handed out once.",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("login", Type::Text),
            opt("attributes", Type::Object),
            opt("activate", Type::Boolean),
            opt("send_email", Type::Boolean),
            opt("temporary_password", Type::Boolean),
        ],
        outputs: &[
            req("plan", Type::Text),
            req("outcome", Type::Text),
            req("changed", Type::Boolean),
            opt("operations", Type::List),
            secret("temporary_password"),
        ],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "account.retire",
        summary: "Retires an account: `mode` suspend, deactivate or delete (a deletion deactivates first).",
        effect: Effect::Change,
        inputs: &[TARGET, req("who", Type::Text), req("mode", Type::Text)],
        outputs: CHANGE_OUTPUTS,
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "profile.update",
        summary: "A partial update of an account's profile attributes (before → after in the history).",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("who", Type::Text),
            req("attributes", Type::Object),
        ],
        outputs: CHANGE_OUTPUTS,
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "resource.create",
        summary: "Creates a resource where it is missing (an Okta group, an OPA secret folder or security policy) with its settings.",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("kind", Type::Text),
            req("name", Type::Text),
            opt("spec", Type::Object),
        ],
        outputs: CHANGE_OUTPUTS,
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "group.push",
        summary: "Pushes a directory group to an app (Okta Group Push), assigning the group to the app first where needed.",
        effect: Effect::Change,
        inputs: &[
            TARGET,
            req("group", Type::Text),
            req("app", Type::Text),
            opt("target_name", Type::Text),
        ],
        outputs: CHANGE_OUTPUTS,
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "approval",
        summary: "Asks for an approval through the requests' chains (an action, a bundle or a change in words, for a person) and waits for the decision; approved, the request's plan is applied.",
        effect: Effect::Change,
        inputs: &[
            req("for", Type::Text),
            req("reason", Type::Text),
            opt("action", Type::Object),
            opt("bundle", Type::Text),
            opt("change", Type::Text),
            opt("duration", Type::Text),
        ],
        outputs: &[
            req("request", Type::Text),
            req("state", Type::Text),
            req("approved", Type::Boolean),
            opt("plan", Type::Text),
        ],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "notify.slack",
        summary: "Posts a message to a chat channel (by name or id) through a Slack connection.",
        effect: Effect::Notify,
        inputs: &[TARGET, req("channel", Type::Text), req("text", Type::Text)],
        outputs: &[req("channel", Type::Text), req("ts", Type::Text)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "notify.email",
        summary: "Sends a plain-text email (to one address or a list, optional cc) through the organisation's SMTP server (`flows.smtp`); gives the message id.",
        effect: Effect::Notify,
        inputs: &[
            req("to", Type::Any),
            req("subject", Type::Text),
            req("body", Type::Text),
            opt("cc", Type::Any),
        ],
        outputs: &[req("message_id", Type::Text), req("recipients", Type::List)],
        open_inputs: false,
        open_outputs: false,
    },
    Card {
        name: "http",
        summary: "A custom HTTP call through a connection (its credentials and allowed hosts); the response parsed as JSON when it is JSON.",
        effect: Effect::Http,
        inputs: &[
            req("connection", Type::Text),
            req("url", Type::Text),
            opt("method", Type::Text),
            opt("headers", Type::Object),
            opt("query", Type::Object),
            opt("body", Type::Any),
        ],
        outputs: &[
            req("status", Type::Number),
            req("headers", Type::Object),
            req("body", Type::Any),
        ],
        open_inputs: false,
        open_outputs: false,
    },
];

pub fn card(name: &str) -> Option<&'static Card> {
    CARDS.iter().find(|c| c.name == name)
}

/// The card names closest to `name`, for "did you mean".
pub fn closest(name: &str) -> Option<&'static str> {
    CARDS
        .iter()
        .map(|c| (strsim::levenshtein(name, c.name), c.name))
        .filter(|(score, _)| *score <= 3)
        .min_by_key(|(score, _)| *score)
        .map(|(_, n)| n)
}
