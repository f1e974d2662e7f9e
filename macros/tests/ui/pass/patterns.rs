use serde::Deserialize;

// Newtypes are transparent in JSON, so this one decodes from the `null` an empty payload reads as.
#[derive(Deserialize)]
struct Name(Option<String>);

struct Greeting(String);

async fn init() -> Result<Greeting, lamina::Error> {
    Ok(Greeting("Hello".to_owned()))
}

// Any irrefutable pattern works in any position, and `_` ignores an argument.
#[lamina::handler(init = init)]
async fn greet(
    Name(name): Name,
    _: lamina::Context,
    Greeting(word): &Greeting,
) -> Result<String, lamina::Error> {
    Ok(format!("{word}, {}", name.as_deref().unwrap_or("world")))
}
