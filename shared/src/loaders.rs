//! Per-request DataLoaders and the facade resolvers call. [`Downstream`] is built fresh for every
//! GraphQL request (so no cached data is shared between viewers): the ids resolvers ask for
//! together are batched into one downstream call (split above the configured maximum), repeated
//! ids are answered from the request's own cache, and every failure comes back as a [`BffError`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::OnceLock;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::clients::DownstreamClients;
use crate::config::LoaderConfig;
use crate::error::{BffError, BffResult};
use crate::models::*;

/// Loader error (`Clone`, as async-graphql requires).
pub type LoadError = BffError;

/// Users by id (`GET /users?ids`).
pub struct UsersById(DownstreamClients);
/// Orders by id (`GET /orders?ids`).
pub struct OrdersById(DownstreamClients);
/// Products by id (`GET /products?ids`).
pub struct ProductsById(DownstreamClients);
/// Review summaries by product id (`GET /reviews/summary?product_ids`).
pub struct ReviewSummariesByProduct(DownstreamClients);
/// The newest orders of users (`GET /orders?user_ids&per_user`).
pub struct RecentOrdersByUser(DownstreamClients);

/// Key of [`RecentOrdersByUser`]: a user and how many of their newest orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecentOrdersKey {
    pub user_id: Id,
    pub per_user: usize,
}

fn by_id<T>(items: Vec<T>, id: impl Fn(&T) -> Id) -> HashMap<Id, T> {
    items.into_iter().map(|item| (id(&item), item)).collect()
}

impl Loader<Id> for UsersById {
    type Value = User;
    type Error = LoadError;
    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, User>, LoadError> {
        Ok(by_id(self.0.users_by_ids(keys).await?, |u| u.id))
    }
}

impl Loader<Id> for OrdersById {
    type Value = Order;
    type Error = LoadError;
    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, Order>, LoadError> {
        Ok(by_id(self.0.orders_by_ids(keys).await?, |o| o.id))
    }
}

impl Loader<Id> for ProductsById {
    type Value = Product;
    type Error = LoadError;
    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, Product>, LoadError> {
        Ok(by_id(self.0.products_by_ids(keys).await?, |p| p.id))
    }
}

impl Loader<Id> for ReviewSummariesByProduct {
    type Value = ReviewSummary;
    type Error = LoadError;
    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, ReviewSummary>, LoadError> {
        Ok(by_id(self.0.review_summaries(keys).await?, |s| {
            s.product_id
        }))
    }
}

impl Loader<RecentOrdersKey> for RecentOrdersByUser {
    type Value = Vec<Order>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[RecentOrdersKey],
    ) -> Result<HashMap<RecentOrdersKey, Vec<Order>>, LoadError> {
        // One call per distinct page size (in practice one per request).
        let mut by_size: HashMap<usize, Vec<Id>> = HashMap::new();
        for key in keys {
            by_size.entry(key.per_user).or_default().push(key.user_id);
        }
        let calls = by_size.into_iter().map(|(per_user, ids)| async move {
            let orders = self.0.recent_orders_of_users(&ids, per_user).await?;
            Ok::<_, BffError>(ids.into_iter().map(move |user_id| {
                let key = RecentOrdersKey { user_id, per_user };
                (key, orders.get(&user_id).cloned().unwrap_or_default())
            }))
        });
        let mut out = HashMap::with_capacity(keys.len());
        for pairs in futures_util::future::try_join_all(calls).await? {
            out.extend(pairs);
        }
        Ok(out)
    }
}

/// Each batch is observed (span, batch-size metric) and runs in the request's scope.
type Cached<T> = DataLoader<crate::observability::Observed<T>, HashMapCache>;

/// Per-request access to the downstream services: batched loads plus direct calls. Each loader
/// is created on its first use, so a request pays only for the loaders its query needs.
pub struct Downstream {
    clients: DownstreamClients,
    config: LoaderConfig,
    users: OnceLock<Cached<UsersById>>,
    orders: OnceLock<Cached<OrdersById>>,
    products: OnceLock<Cached<ProductsById>>,
    review_summaries: OnceLock<Cached<ReviewSummariesByProduct>>,
    recent_orders: OnceLock<Cached<RecentOrdersByUser>>,
}

fn loader<T: Send + Sync + 'static>(inner: T, config: &LoaderConfig) -> Cached<T> {
    let inner = crate::observability::Observed::new(inner);
    DataLoader::with_cache(
        inner,
        crate::observability::spawn_in_request,
        HashMapCache::default(),
    )
    .delay(config.delay)
    .max_batch_size(config.max_batch.clamp(1, MAX_IDS_PER_CALL))
}

impl Downstream {
    /// Loaders for one request (each built on first use); `clients` should be the request's
    /// own copy ([`DownstreamClients::for_request`]).
    pub fn new(clients: &DownstreamClients, config: &LoaderConfig) -> Self {
        Self {
            clients: clients.clone(),
            config: config.clone(),
            users: OnceLock::new(),
            orders: OnceLock::new(),
            products: OnceLock::new(),
            review_summaries: OnceLock::new(),
            recent_orders: OnceLock::new(),
        }
    }

    /// The loader in `cell`, built from `make` on first use.
    fn lazy<'a, T: Send + Sync + 'static>(
        &self,
        cell: &'a OnceLock<Cached<T>>,
        make: impl FnOnce(DownstreamClients) -> T,
    ) -> &'a Cached<T> {
        cell.get_or_init(|| loader(make(self.clients.clone()), &self.config))
    }

    /// The underlying clients, for calls that are not batched (searches, pages, mutations).
    pub fn clients(&self) -> &DownstreamClients {
        &self.clients
    }

    /// A user by id, batched with the other users asked for in this request.
    pub async fn user(&self, id: Id) -> BffResult<Option<User>> {
        self.lazy(&self.users, UsersById).load_one(id).await
    }

    /// Several users, in one batched call; unknown ids are absent.
    pub async fn users(&self, ids: impl IntoIterator<Item = Id>) -> BffResult<HashMap<Id, User>> {
        self.lazy(&self.users, UsersById).load_many(ids).await
    }

    /// An order by id, batched.
    pub async fn order(&self, id: Id) -> BffResult<Option<Order>> {
        self.lazy(&self.orders, OrdersById).load_one(id).await
    }

    /// One of `viewer_id`'s orders, batched; NOT_FOUND when it does not exist or belongs to
    /// someone else, indistinguishably.
    pub async fn own_order(&self, viewer_id: Id, id: Id) -> BffResult<Order> {
        let order = self.order(id).await?;
        not_found("order", order.filter(|o| o.user_id == viewer_id))
    }

    /// A product by id, batched.
    pub async fn product(&self, id: Id) -> BffResult<Option<Product>> {
        self.lazy(&self.products, ProductsById).load_one(id).await
    }

    /// Several products, in one batched call; unknown ids are absent.
    pub async fn products(
        &self,
        ids: impl IntoIterator<Item = Id>,
    ) -> BffResult<HashMap<Id, Product>> {
        self.lazy(&self.products, ProductsById).load_many(ids).await
    }

    /// A product's rating summary, batched with the other products of this request.
    pub async fn review_summary(&self, product_id: Id) -> BffResult<Option<ReviewSummary>> {
        self.lazy(&self.review_summaries, ReviewSummariesByProduct)
            .load_one(product_id)
            .await
    }

    /// A user's `per_user` newest orders, batched over the users of this request.
    pub async fn recent_orders(&self, user_id: Id, per_user: usize) -> BffResult<Vec<Order>> {
        let key = RecentOrdersKey { user_id, per_user };
        Ok(self
            .lazy(&self.recent_orders, RecentOrdersByUser)
            .load_one(key)
            .await?
            .unwrap_or_default())
    }

    /// Puts already-fetched products in this request's cache, so later loads of them cost nothing.
    pub async fn prime_products(&self, products: &[Product]) {
        self.lazy(&self.products, ProductsById)
            .feed_many(products.iter().map(|p| (p.id, p.clone())))
            .await;
    }
}

/// Shorthand for a `BffError` from a missing entity.
pub fn not_found<T>(what: &str, value: Option<T>) -> BffResult<T> {
    value.ok_or_else(|| BffError::NotFound(what.to_owned()))
}
