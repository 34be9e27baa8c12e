//! What the emulator publishes about itself (RFC 7643 §5–§8.7, RFC 7644 §4) and the attribute definitions it
//! stores resources by. Only attributes the emulator keeps and returns exactly as written are published:
//! scim2-tester fills every published writable attribute with random values and expects them back.

use serde_json::{Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The largest page a list or search returns (published as `filter.maxResults`).
pub const MAX_RESULTS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Complex,
    Reference,
    DateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: &'static str,
    pub uniqueness: &'static str,
    pub canonical: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub: &'static [Attr],
    pub description: &'static str,
}

const fn string(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        ty: Type::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: "default",
        uniqueness: "none",
        canonical: &[],
        reference_types: &[],
        sub: &[],
        description,
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attr {
    Attr {
        ty: Type::Boolean,
        ..string(name, description)
    }
}

const fn complex(name: &'static str, multi: bool, sub: &'static [Attr], d: &'static str) -> Attr {
    Attr {
        ty: Type::Complex,
        multi,
        sub,
        ..string(name, d)
    }
}

const TYPED_SUB: [Attr; 4] = [
    string("value", "The attribute's value."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    Attr {
        canonical: &["work", "home", "other"],
        ..string("type", "A label indicating the attribute's function.")
    },
    boolean(
        "primary",
        "Indicates the 'primary' or preferred attribute value for this attribute.",
    ),
];

const NAME_SUB: [Attr; 6] = [
    string(
        "formatted",
        "The full name, including all middle names, titles, and suffixes.",
    ),
    string("familyName", "The family name of the User."),
    string("givenName", "The given name of the User."),
    string("middleName", "The middle name(s) of the User."),
    string("honorificPrefix", "The honorific prefix(es) of the User."),
    string("honorificSuffix", "The honorific suffix(es) of the User."),
];

const GROUP_REF_SUB: [Attr; 4] = [
    Attr {
        mutability: Mutability::ReadOnly,
        ..string("value", "The identifier of the User's group.")
    },
    Attr {
        ty: Type::Reference,
        mutability: Mutability::ReadOnly,
        reference_types: &["User", "Group"],
        ..string("$ref", "The URI of the corresponding 'Group' resource.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..string(
            "display",
            "A human-readable name, primarily used for display purposes.",
        )
    },
    Attr {
        mutability: Mutability::ReadOnly,
        canonical: &["direct", "indirect"],
        ..string("type", "A label indicating the attribute's function.")
    },
];

pub const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        uniqueness: "server",
        ..string(
            "userName",
            "Unique identifier for the User, typically used to sign in.",
        )
    },
    complex(
        "name",
        false,
        &NAME_SUB,
        "The components of the user's real name.",
    ),
    string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "Identifies the relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    string("locale", "The User's default location for localizing."),
    string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format.",
    ),
    boolean(
        "active",
        "A Boolean value indicating the User's administrative status.",
    ),
    complex("emails", true, &TYPED_SUB, "Email addresses for the user."),
    complex(
        "phoneNumbers",
        true,
        &TYPED_SUB,
        "Phone numbers for the User.",
    ),
    Attr {
        mutability: Mutability::ReadOnly,
        ..complex(
            "groups",
            true,
            &GROUP_REF_SUB,
            "A list of groups to which the user belongs.",
        )
    },
];

const MEMBER_SUB: [Attr; 3] = [
    Attr {
        case_exact: true,
        mutability: Mutability::Immutable,
        ..string("value", "Identifier of the member of this Group.")
    },
    Attr {
        ty: Type::Reference,
        mutability: Mutability::Immutable,
        reference_types: &["User", "Group"],
        ..string(
            "$ref",
            "The URI corresponding to a SCIM resource that is a member of this Group.",
        )
    },
    Attr {
        mutability: Mutability::Immutable,
        canonical: &["User", "Group"],
        ..string(
            "type",
            "A label indicating the type of resource, e.g., 'User' or 'Group'.",
        )
    },
];

pub const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        ..string("displayName", "A human-readable name for the Group.")
    },
    complex(
        "members",
        true,
        &MEMBER_SUB,
        "A list of members of the Group.",
    ),
];

/// Attributes every resource has (RFC 7643 §3.1); not part of any published schema.
pub const ID: Attr = Attr {
    case_exact: true,
    mutability: Mutability::ReadOnly,
    returned: "always",
    ..string("id", "")
};
pub const EXTERNAL_ID: Attr = Attr {
    case_exact: true,
    ..string("externalId", "")
};
const META_SUB: [Attr; 5] = [
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..string("resourceType", "")
    },
    Attr {
        ty: Type::DateTime,
        mutability: Mutability::ReadOnly,
        ..string("created", "")
    },
    Attr {
        ty: Type::DateTime,
        mutability: Mutability::ReadOnly,
        ..string("lastModified", "")
    },
    Attr {
        ty: Type::Reference,
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..string("location", "")
    },
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..string("version", "")
    },
];
pub const META: Attr = Attr {
    mutability: Mutability::ReadOnly,
    ..complex("meta", false, &META_SUB, "")
};

/// The two resource types the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::User, Kind::Group];

    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn urn(self) -> &'static str {
        match self {
            Kind::User => USER,
            Kind::Group => GROUP,
        }
    }

    pub fn attrs(self) -> &'static [Attr] {
        match self {
            Kind::User => USER_ATTRS,
            Kind::Group => GROUP_ATTRS,
        }
    }

    pub fn from_endpoint(segment: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.endpoint().eq_ignore_ascii_case(segment))
    }

    /// A top-level attribute by name, case-insensitively (RFC 7643 §2.1), including the common ones.
    pub fn attr(self, name: &str) -> Option<&'static Attr> {
        [&ID, &EXTERNAL_ID, &META]
            .into_iter()
            .chain(self.attrs())
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

impl Attr {
    pub fn sub_attr(&self, name: &str) -> Option<&'static Attr> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn writable(&self) -> bool {
        self.mutability != Mutability::ReadOnly
    }

    fn to_json(self) -> Value {
        let ty = match self.ty {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Complex => "complex",
            Type::Reference => "reference",
            Type::DateTime => "dateTime",
        };
        let mutability = match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        };
        let mut a = json!({
            "name": self.name,
            "type": ty,
            "multiValued": self.multi,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if !self.canonical.is_empty() {
            a["canonicalValues"] = json!(self.canonical);
        }
        if !self.reference_types.is_empty() {
            a["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub.is_empty() {
            a["subAttributes"] = self.sub.iter().map(|s| s.to_json()).collect();
        }
        a
    }
}

// RFC 7643 §8.7.2's definitions of the three core schemas, as published in the MIT-licensed `scim_v2` crate
// (its `src/schemas/`), with the ServiceProviderConfig schema's `name` set to the id's last segment as
// scim2-tester checks, and its `etag` attribute (RFC 7643 §5), which that copy lacks, added.
const RESOURCE_TYPE_SCHEMA: &str = include_str!("schemas/resource_type.json");
const SCHEMA_SCHEMA: &str = include_str!("schemas/scim_schema.json");
const SPC_SCHEMA: &str = include_str!("schemas/service_provider_config.json");

fn with_meta(mut v: Value, base: &str, resource_type: &str, location: &str) -> Value {
    v["schemas"] = json!([match resource_type {
        "Schema" => SCHEMA,
        "ResourceType" => RESOURCE_TYPE,
        _ => SPC,
    }]);
    v["meta"] = json!({ "resourceType": resource_type, "location": format!("{base}{location}") });
    v
}

/// Every schema the emulator publishes, `/Schemas` order; `base` is `http://host/scim/v2`.
pub fn schemas(base: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Kind::ALL
        .into_iter()
        .map(|k| {
            json!({
                "id": k.urn(),
                "name": k.name(),
                "description": format!("{} Account", k.name()),
                "attributes": k.attrs().iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            })
        })
        .collect();
    for text in [SPC_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA] {
        // The files are part of the crate and covered by tests; a parse failure is a build defect.
        out.push(serde_json::from_str(text).unwrap_or(Value::Null));
    }
    out.into_iter()
        .filter(|s| !s.is_null())
        .map(|s| {
            let id = s["id"].as_str().unwrap_or_default().to_owned();
            with_meta(s, base, "Schema", &format!("/Schemas/{id}"))
        })
        .collect()
}

pub fn resource_types(base: &str) -> Vec<Value> {
    Kind::ALL
        .into_iter()
        .map(|k| {
            with_meta(
                json!({
                    "id": k.name(),
                    "name": k.name(),
                    "endpoint": format!("/{}", k.endpoint()),
                    "description": format!("{} Account", k.name()),
                    "schema": k.urn(),
                    "schemaExtensions": [],
                }),
                base,
                "ResourceType",
                &format!("/ResourceTypes/{}", k.name()),
            )
        })
        .collect()
}

pub fn service_provider_config(base: &str) -> Value {
    with_meta(
        json!({
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_RESULTS },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token in the Authorization header",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
        }),
        base,
        "ServiceProviderConfig",
        "/ServiceProviderConfig",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_mandatory_core_schemas_are_published_under_the_names_clients_check() {
        let all = schemas("http://x/scim/v2");
        let names: Vec<&str> = all.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "User",
                "Group",
                "ServiceProviderConfig",
                "ResourceType",
                "Schema"
            ]
        );
        let user = &all[0];
        assert_eq!(user["attributes"][0]["name"], "userName");
        assert_eq!(user["attributes"][0]["uniqueness"], "server");
        assert_eq!(
            user["meta"]["location"],
            format!("http://x/scim/v2/Schemas/{USER}")
        );
    }
}
