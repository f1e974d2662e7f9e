use std::cell::Cell;

async fn build() -> Result<Cell<u32>, lamina::Error> {
    Ok(Cell::new(0))
}

async fn report(count: &Cell<u32>) {
    println!("{}", count.get());
}

#[lamina::handler(init = build, shutdown = report)]
async fn handle(_event: String, _ctx: lamina::Context, _count: &Cell<u32>) -> Result<(), lamina::Error> {
    Ok(())
}
