use std::fmt;

#[derive(Debug)]
enum OrderError {
    NotFound(u64),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::NotFound(id) => write!(f, "order {id} does not exist"),
        }
    }
}

impl std::error::Error for OrderError {}

#[lamina::handler]
async fn handle(order_id: Option<u64>, _ctx: lamina::Context) -> Result<String, OrderError> {
    match order_id {
        Some(0) => Err(OrderError::NotFound(0)),
        Some(id) => Ok(format!("order {id}")),
        None => Ok("no order".to_owned()),
    }
}
