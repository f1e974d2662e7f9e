#[lamina::handler]
struct Handler;
