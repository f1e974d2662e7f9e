//! Welcomes each SNS signup with lamina's helper; a signup with the plan `none` fails.

use lamina::events::sns::{self, SnsEvent, SnsMessageExt, SnsRecord};
use lamina::{Context, Error};

#[derive(serde::Deserialize)]
struct Signup {
    email: String,
    plan: String,
}

async fn welcome(signup: Signup, record: SnsRecord) -> Result<(), Error> {
    if signup.plan == "none" {
        return Err(Error::new(
            "NoPlan",
            format!("{} chose no plan", signup.email),
        ));
    }
    tracing::info!(
        message_id = record.message_id(),
        source = record.attribute("source"),
        "welcomed"
    );
    Ok(())
}

#[lamina::handler]
async fn events_sns(event: SnsEvent, _ctx: Context) -> Result<(), Error> {
    sns::process_json(event, welcome).await
}
