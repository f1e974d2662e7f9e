struct App;

impl App {
    #[lamina::handler]
    async fn handle(&self, event: String, _ctx: lamina::Context) -> Result<String, lamina::Error> {
        Ok(event)
    }
}

fn main() {}
