//! `krust token create | list | delete`: bootstrap tokens for joining agents, managed on a
//! server machine through its admin kubeconfig (`<data-dir>/kubeconfig.yaml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use crate::bootstrap::{self, BootstrapToken, JoinToken, TokenSecret, keys};

/// Where the server keeps its data.
#[derive(Debug, Args)]
pub struct DataDir {
    /// The server's data directory (its admin kubeconfig and CA are read from it).
    #[arg(long, default_value = "/var/lib/krust")]
    pub data_dir: PathBuf,
}

/// `krust token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bootstrap token and print the join token for `krust agent --token`.
    Create {
        /// How long the token is valid (e.g. 24h, 30m); 0: until deleted.
        #[arg(long, default_value = "24h", value_parser = crate::duration::parse)]
        ttl: Duration,
        /// Free text stored with the token.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List bootstrap tokens (ids, expiry, description; never the secrets).
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Delete a bootstrap token by id (or full token): agents can no longer join with it.
    Delete {
        /// Token id (6 characters) or `<id>.<secret>` or a join token.
        id: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

/// Runs a `krust token` command.
pub async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            ttl,
            description,
            dir,
        } => {
            let client = admin_client(&dir.data_dir).await?;
            let hash = ca_hash(&dir.data_dir)?;
            let join = create(&client, ttl, description.as_deref(), hash).await?;
            println!("{join}");
            Ok(())
        }
        TokenCommand::List { dir } => list(&admin_client(&dir.data_dir).await?).await,
        TokenCommand::Delete { id, dir } => {
            let id = token_id(&id)?;
            let api: Api<Secret> = Api::namespaced(admin_client(&dir.data_dir).await?, bootstrap::NAMESPACE);
            let name = format!("{}{id}", bootstrap::SECRET_PREFIX);
            api.delete(&name, &DeleteParams::default())
                .await
                .with_context(|| format!("deleting bootstrap token {id}"))?;
            println!("bootstrap token {id} deleted");
            Ok(())
        }
    }
}

/// The token id in what the user typed: an id, `<id>.<secret>` or a join token.
fn token_id(s: &str) -> anyhow::Result<String> {
    let s = s.trim();
    let tail = s.rsplit("::").next().unwrap_or(s);
    let id = tail.split('.').next().unwrap_or(tail);
    if id.len() == 6 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        bail!("{s:?} is not a token id (6 characters of [a-z0-9])")
    }
}

async fn admin_client(data_dir: &Path) -> anyhow::Result<kube::Client> {
    let path = data_dir.join("kubeconfig.yaml");
    let yaml = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the admin kubeconfig {} (run this on a server, with its --data-dir)",
            path.display()
        )
    })?;
    krust_runtime::component_client(&yaml, "krust-token")
        .await
        .context("building the admin client")
}

/// The hash of the server's CA (`<data-dir>/tls/server-ca.crt`).
fn ca_hash(data_dir: &Path) -> anyhow::Result<String> {
    let path = krust_pki::PkiPaths::new(&data_dir.join("tls")).ca_cert;
    let pem = std::fs::read_to_string(&path).with_context(|| format!("reading the CA {}", path.display()))?;
    let der = krust_pki::pem_certificates(&pem)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no certificate in {}", path.display()))?;
    Ok(krust_pki::ca_cert_hash(&der))
}

/// The Secret holding `token`.
fn token_secret(token: &BootstrapToken, expires: Option<SystemTime>, description: Option<&str>) -> Secret {
    let data: BTreeMap<String, ByteString> = bootstrap::secret_data(token, expires, description)
        .into_iter()
        .map(|(k, v)| (k, ByteString(v.into_bytes())))
        .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some(token.secret_name()),
            namespace: Some(bootstrap::NAMESPACE.into()),
            ..Default::default()
        },
        type_: Some(bootstrap::SECRET_TYPE.into()),
        data: Some(data),
        ..Default::default()
    }
}

/// Creates a new token (a new id if one is taken) and returns its join token.
async fn create(
    client: &kube::Client,
    ttl: Duration,
    description: Option<&str>,
    ca_hash: String,
) -> anyhow::Result<JoinToken> {
    let api: Api<Secret> = Api::namespaced(client.clone(), bootstrap::NAMESPACE);
    let expires = (!ttl.is_zero()).then(|| SystemTime::now() + ttl);
    for _ in 0..5 {
        let token = BootstrapToken::generate();
        match api
            .create(
                &PostParams::default(),
                &token_secret(&token, expires, description),
            )
            .await
        {
            Ok(_) => return Ok(JoinToken { ca_hash, token }),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e).context("creating the bootstrap token Secret"),
        }
    }
    bail!("could not find a free token id")
}

async fn list(client: &kube::Client) -> anyhow::Result<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), bootstrap::NAMESPACE);
    let secrets = api
        .list(&ListParams::default().fields(&format!("type={}", bootstrap::SECRET_TYPE)))
        .await
        .context("listing bootstrap tokens")?;
    println!("{:<8} {:<22} {:<15} DESCRIPTION", "ID", "EXPIRES", "USAGES");
    for s in secrets.items {
        let json = serde_json::to_value(&s)?;
        let t = TokenSecret::from_json(&json);
        if t.type_ != bootstrap::SECRET_TYPE {
            continue;
        }
        let get = |k: &str| t.data.get(k).cloned().unwrap_or_default();
        let usages: Vec<&str> = [
            (keys::USAGE_AUTHENTICATION, "authentication"),
            (keys::USAGE_SIGNING, "signing"),
        ]
        .into_iter()
        .filter(|(k, _)| t.data.get(*k).is_some_and(|v| v == "true"))
        .map(|(_, name)| name)
        .collect();
        let expires = t
            .data
            .get(keys::EXPIRATION)
            .cloned()
            .unwrap_or_else(|| "<never>".into());
        println!(
            "{:<8} {:<22} {:<15} {}",
            get(keys::TOKEN_ID),
            expires,
            usages.join(","),
            get(keys::DESCRIPTION)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_in_any_form() {
        assert_eq!(token_id("abc123").unwrap(), "abc123");
        assert_eq!(token_id("abc123.0123456789abcdef").unwrap(), "abc123");
        assert_eq!(
            token_id(&format!("K10{}::abc123.0123456789abcdef", "a".repeat(64))).unwrap(),
            "abc123"
        );
        assert!(token_id("ABC123").is_err());
        assert!(token_id("abc").is_err());
    }

    #[test]
    fn secret_has_upstream_shape() {
        let t = BootstrapToken::generate();
        let s = token_secret(&t, Some(SystemTime::now() + Duration::from_secs(60)), Some("d"));
        assert_eq!(s.metadata.name.as_deref(), Some(t.secret_name().as_str()));
        assert_eq!(s.type_.as_deref(), Some(bootstrap::SECRET_TYPE));
        let data = s.data.unwrap();
        for k in [
            keys::TOKEN_ID,
            keys::TOKEN_SECRET,
            keys::EXPIRATION,
            keys::USAGE_AUTHENTICATION,
            keys::USAGE_SIGNING,
            keys::EXTRA_GROUPS,
            keys::DESCRIPTION,
        ] {
            assert!(data.contains_key(k), "{k}");
        }
        assert_eq!(data[keys::USAGE_AUTHENTICATION].0, b"true");
    }
}
