//! The one in-process dataset the three services share: deterministic generation from a seed,
//! indexes (orders by user and by status, products by category) and the mutations.

use std::collections::{BTreeMap, BTreeSet};

use shared::models::{
    Address, Id, NewOrder, Order, OrderItem, OrderStats, OrderStatus, Product, ProductImage,
    ProductPatch, Review, ReviewSummary, Role, Tier, User, UserPatch,
};

use crate::{
    error::ApiError,
    rng::Rng,
    time::{DAY, REFERENCE_EPOCH, now_rfc3339, rfc3339},
};

/// Currency of every amount.
pub const CURRENCY: &str = "USD";

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "John",
    "Katherine",
    "Tim",
    "Sophie",
    "Niklaus",
    "Anita",
    "Guido",
    "Zoë",
    "José",
    "Björn",
    "Chloé",
    "Hiro",
    "Mei",
    "Amélie",
    "Søren",
    "Ines",
    "Rafael",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Berners-Lee",
    "Wilson",
    "Wirth",
    "Borg",
    "van Rossum",
    "Müller",
    "García",
    "Nakamura",
    "Dubois",
    "Novak",
    "Larsen",
    "Silva",
    "Kowalski",
    "O'Brien",
    "Chen",
];
const CITIES: &[(&str, &str)] = &[
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("London", "GB"),
    ("New York", "US"),
    ("San Francisco", "US"),
    ("Tokyo", "JP"),
    ("Montréal", "CA"),
    ("São Paulo", "BR"),
    ("Zürich", "CH"),
    ("Madrid", "ES"),
    ("Oslo", "NO"),
    ("Sydney", "AU"),
];
const STREETS: &[&str] = &[
    "Main Street",
    "Rue de la Paix",
    "Baker Street",
    "Hauptstraße",
    "Calle Mayor",
    "Elm Avenue",
    "Harbour Road",
    "Market Square",
];
/// The product categories.
pub const CATEGORIES: &[&str] = &[
    "books",
    "electronics",
    "kitchen",
    "garden",
    "toys",
    "sports",
    "fashion",
    "beauty",
    "grocery",
    "office",
];
const ADJECTIVES: &[&str] = &[
    "Classic", "Ultra", "Compact", "Deluxe", "Eco", "Smart", "Vintage", "Pro", "Mini", "Artisan",
    "Nordic", "Urban",
];
const NOUNS: &[&str] = &[
    "Lamp",
    "Kettle",
    "Backpack",
    "Notebook",
    "Headphones",
    "Blender",
    "Planter",
    "Puzzle",
    "Sneakers",
    "Serum",
    "Coffee",
    "Stapler",
    "Jacket",
    "Racket",
    "Speaker",
    "Chair",
];
const SENTENCES: &[&str] = &[
    "Designed for everyday use, it combines durable materials with a clean, timeless look.",
    "Crafted with care in a small workshop, each piece is inspected by hand before shipping.",
    "Café-ready finish: the crème de la crème of its category, façade and all.",
    "日本製の高品質な素材を使用しています。毎日の生活に最適です。",
    "高品质材料，经久耐用，适合日常使用。",
    "Customers love it 🚀 and so will you ✨.",
    "Easy to clean, easy to store, and backed by our no-questions-asked return policy.",
    "Ideal as a gift: it arrives in recyclable packaging with a handwritten note.",
    "Über-practical, naïve-proof and déjà vu-free — it simply works.",
    "Tested in the lab and in the field, it keeps performing season after season.",
    "Its ergonomic shape reduces strain during long sessions.",
    "Available while stocks last; limited quantities are produced each month.",
];
const SPEC_KEYS: &[&str] = &[
    "weight",
    "color",
    "material",
    "dimensions",
    "warranty",
    "origin",
    "power",
    "capacity",
    "model_year",
    "care",
];
const SPEC_VALUES: &[&str] = &[
    "1.2 kg",
    "midnight blue",
    "recycled aluminium",
    "30 × 20 × 10 cm",
    "2 years",
    "Portugal",
    "45 W",
    "1.5 L",
    "2024",
    "hand wash",
    "crème",
    "matte black",
    "oak",
    "日本",
];
const REVIEW_TITLES: &[(&str, u8)] = &[
    ("Terrible, broke in a week", 1),
    ("Not worth the price", 2),
    ("It's okay", 3),
    ("Does the job", 3),
    ("Really good", 4),
    ("Great value", 4),
    ("Absolutely love it", 5),
    ("Perfect — 完璧です", 5),
];
const REVIEW_BODIES: &[&str] = &[
    "Arrived quickly and well packaged.",
    "Quality is about what I expected for the price.",
    "I've been using it daily for a month now.",
    "Would buy again, and I already recommended it to friends.",
    "The colour is slightly different from the photos.",
    "Très bien, exactement comme décrit.",
    "Customer service answered within a day.",
];

/// Sizes and seed of the generated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSizes {
    pub users: usize,
    pub products: usize,
    pub orders: usize,
    pub seed: u64,
}

/// The shared dataset. Ids are dense: entity `id` lives at index `id - 1`.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    users: Vec<User>,
    products: Vec<Product>,
    orders: Vec<Order>,
    /// Reviews per product index, newest first.
    reviews: Vec<Vec<Review>>,
    /// (average rating, total) per product index.
    ratings: Vec<(f64, i64)>,
    /// Order ids per user index, newest first (descending id).
    orders_by_user: Vec<Vec<Id>>,
    /// Order ids per status (index in `OrderStatus::ALL`).
    orders_by_status: [BTreeSet<Id>; 5],
    /// Product ids per category, ascending.
    by_category: BTreeMap<String, Vec<Id>>,
    revenue_cents: i64,
}

fn status_index(status: OrderStatus) -> usize {
    match status {
        OrderStatus::Pending => 0,
        OrderStatus::Paid => 1,
        OrderStatus::Shipped => 2,
        OrderStatus::Delivered => 3,
        OrderStatus::Cancelled => 4,
    }
}

fn slot(id: Id, len: usize) -> Option<usize> {
    (id >= 1 && (id as u64) <= len as u64).then(|| (id - 1) as usize)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Dataset {
    /// Generates the dataset deterministically from `sizes`.
    pub fn generate(sizes: DataSizes) -> Self {
        let mut rng = Rng::new(sizes.seed);
        let two_years = 730 * DAY;
        let start = REFERENCE_EPOCH - two_years;

        // Users.
        let mut users = Vec::with_capacity(sizes.users);
        for i in 0..sizes.users {
            let id = i as Id + 1;
            let (name, role) = if id == 1 {
                ("Ada Admin".to_owned(), Role::Admin)
            } else {
                let first = rng.pick(FIRST_NAMES);
                let last = rng.pick(LAST_NAMES);
                let role = if rng.chance(0.01) {
                    Role::Admin
                } else {
                    Role::Customer
                };
                (format!("{first} {last}"), role)
            };
            let local: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
                .map(|c| {
                    if c == ' ' {
                        '.'
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            let tier = match rng.below(10) {
                0..=5 => Tier::Standard,
                6..=8 => Tier::Gold,
                _ => Tier::Platinum,
            };
            let (city, country) = *rng.pick(CITIES);
            users.push(User {
                id,
                email: format!("{local}{id}@example.com"),
                name,
                avatar_url: format!("https://img.example.com/u/{id}/avatar.jpg"),
                role,
                tier,
                address: Address {
                    line1: format!("{} {}", rng.range(1, 250), rng.pick(STREETS)),
                    city: city.to_owned(),
                    postal_code: format!("{:05}", rng.below(100_000)),
                    country: country.to_owned(),
                },
                created_at: rfc3339(start - rng.range(0, 365 * DAY) + (i as i64 * 7)),
            });
        }

        // Products.
        let mut products = Vec::with_capacity(sizes.products);
        let mut by_category: BTreeMap<String, Vec<Id>> = BTreeMap::new();
        for i in 0..sizes.products {
            let id = i as Id + 1;
            let category = CATEGORIES[i % CATEGORIES.len()];
            let name = format!("{} {} {id}", rng.pick(ADJECTIVES), rng.pick(NOUNS));
            let target = rng.range(1024, 2900) as usize;
            let mut description = String::with_capacity(target + 128);
            while description.len() < target {
                if !description.is_empty() {
                    description.push(' ');
                }
                description.push_str(rng.pick::<&str>(SENTENCES));
            }
            let inventory = match rng.below(100) {
                0..=7 => 0,
                8..=17 => rng.range(1, 4),
                _ => rng.range(5, 500),
            };
            let images = (1..=rng.range(1, 6))
                .map(|n| ProductImage {
                    thumbnail: format!("https://img.example.com/p/{id}/{n}/thumb.jpg"),
                    mobile: format!("https://img.example.com/p/{id}/{n}/mobile.jpg"),
                    full: format!("https://img.example.com/p/{id}/{n}/full.jpg"),
                })
                .collect();
            let mut specifications = BTreeMap::new();
            let want = rng.range(3, 8) as usize;
            let offset = rng.below(SPEC_KEYS.len() as u64) as usize;
            for k in 0..want {
                let key = SPEC_KEYS[(offset + k) % SPEC_KEYS.len()];
                specifications.insert(key.to_owned(), (*rng.pick(SPEC_VALUES)).to_owned());
            }
            by_category.entry(category.to_owned()).or_default().push(id);
            products.push(Product {
                id,
                name,
                description,
                price_cents: rng.range(199, 49_999),
                currency: CURRENCY.to_owned(),
                category: category.to_owned(),
                inventory,
                images,
                specifications,
                created_at: rfc3339(start - rng.range(0, 365 * DAY)),
            });
        }

        // Reviews: 0–20 per product, newest first.
        let mut reviews = Vec::with_capacity(sizes.products);
        let mut ratings = Vec::with_capacity(sizes.products);
        let mut next_review_id: Id = 1;
        for i in 0..sizes.products {
            let count = if sizes.users == 0 {
                0
            } else {
                rng.range(0, 20)
            };
            let mut list = Vec::with_capacity(count as usize);
            let mut sum = 0i64;
            for _ in 0..count {
                let (title, rating) = *rng.pick(REVIEW_TITLES);
                sum += i64::from(rating);
                list.push(Review {
                    id: next_review_id,
                    product_id: i as Id + 1,
                    user_id: rng.range(1, sizes.users as i64),
                    rating,
                    title: title.to_owned(),
                    body: format!("{} {}", rng.pick(REVIEW_BODIES), rng.pick(REVIEW_BODIES)),
                    created_at: String::new(),
                });
                next_review_id += 1;
            }
            // Assign ascending times, then reverse: newest first.
            let mut t = start + rng.range(0, 30 * DAY);
            for review in &mut list {
                t += rng.range(DAY, 30 * DAY);
                review.created_at = rfc3339(t.min(REFERENCE_EPOCH));
            }
            list.reverse();
            ratings.push(if count == 0 {
                (0.0, 0)
            } else {
                (round2(sum as f64 / count as f64), count)
            });
            reviews.push(list);
        }

        // Orders: created_at increases with the id, so "newest first" is "descending id".
        let mut data = Dataset {
            users,
            products,
            orders: Vec::with_capacity(sizes.orders),
            reviews,
            ratings,
            orders_by_user: vec![Vec::new(); sizes.users],
            orders_by_status: Default::default(),
            by_category,
            revenue_cents: 0,
        };
        if sizes.users > 0 && sizes.products > 0 {
            let step = (two_years / sizes.orders.max(1) as i64).max(1);
            for i in 0..sizes.orders {
                let id = i as Id + 1;
                let user_id = if i < 5 && sizes.users >= 2 {
                    2
                } else {
                    rng.range(1, sizes.users as i64)
                };
                let status = match rng.below(100) {
                    0..=11 => OrderStatus::Pending,
                    12..=21 => OrderStatus::Paid,
                    22..=36 => OrderStatus::Shipped,
                    37..=89 => OrderStatus::Delivered,
                    _ => OrderStatus::Cancelled,
                };
                let lines = rng.range(1, 5);
                let mut items: Vec<OrderItem> = Vec::with_capacity(lines as usize);
                for _ in 0..lines {
                    let product_id = rng.range(1, sizes.products as i64);
                    if items.iter().any(|it| it.product_id == product_id) {
                        continue;
                    }
                    items.push(OrderItem {
                        product_id,
                        quantity: rng.range(1, 3),
                        unit_price_cents: data.products[(product_id - 1) as usize].price_cents,
                    });
                }
                let created = start + i as i64 * step + rng.range(0, step - 1);
                let updated = if status == OrderStatus::Pending {
                    created
                } else {
                    (created + rng.range(3600, 5 * DAY)).min(REFERENCE_EPOCH)
                };
                let total_cents = items
                    .iter()
                    .map(|it| it.quantity * it.unit_price_cents)
                    .sum();
                data.insert_order(Order {
                    id,
                    user_id,
                    status,
                    items,
                    total_cents,
                    currency: CURRENCY.to_owned(),
                    created_at: rfc3339(created),
                    updated_at: rfc3339(updated),
                });
            }
            for list in &mut data.orders_by_user {
                list.reverse();
            }
        }
        data
    }

    /// Appends an order with the next id and indexes it (user list is appended: callers fix order).
    fn insert_order(&mut self, order: Order) {
        if let Some(u) = slot(order.user_id, self.users.len()) {
            self.orders_by_user[u].push(order.id);
        }
        self.orders_by_status[status_index(order.status)].insert(order.id);
        if order.status != OrderStatus::Cancelled {
            self.revenue_cents += order.total_cents;
        }
        self.orders.push(order);
    }

    // ---- users ----

    /// All users, ascending id.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// One user.
    pub fn user(&self, id: Id) -> Option<&User> {
        slot(id, self.users.len()).map(|i| &self.users[i])
    }

    /// Applies a patch to a user: 404 unknown, 422 `invalid_field` for an empty name or bad email.
    pub fn patch_user(&mut self, id: Id, patch: UserPatch) -> Result<User, ApiError> {
        if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "name must not be empty",
            ));
        }
        if patch.email.as_deref().is_some_and(|e| !e.contains('@')) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "email must contain '@'",
            ));
        }
        let i = slot(id, self.users.len())
            .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
        let user = &mut self.users[i];
        if let Some(name) = patch.name {
            user.name = name;
        }
        if let Some(email) = patch.email {
            user.email = email;
        }
        if let Some(role) = patch.role {
            user.role = role;
        }
        if let Some(tier) = patch.tier {
            user.tier = tier;
        }
        Ok(user.clone())
    }

    // ---- products ----

    /// All products, ascending id.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// One product.
    pub fn product(&self, id: Id) -> Option<&Product> {
        slot(id, self.products.len()).map(|i| &self.products[i])
    }

    /// Reviews of a product, newest first (`None` for an unknown product).
    pub fn reviews(&self, product_id: Id) -> Option<&[Review]> {
        slot(product_id, self.products.len()).map(|i| self.reviews[i].as_slice())
    }

    /// Rating summary of a product.
    pub fn review_summary(&self, product_id: Id) -> Option<ReviewSummary> {
        slot(product_id, self.products.len()).map(|i| ReviewSummary {
            product_id,
            average_rating: self.ratings[i].0,
            total: self.ratings[i].1,
        })
    }

    /// Best-rated products in stock (ties: more reviews, then lower id).
    pub fn featured(&self, limit: usize) -> Vec<Product> {
        let mut candidates: Vec<usize> = (0..self.products.len())
            .filter(|&i| self.products[i].inventory > 0)
            .collect();
        candidates.sort_by(|&a, &b| {
            let (ra, ta) = self.ratings[a];
            let (rb, tb) = self.ratings[b];
            rb.total_cmp(&ra).then(tb.cmp(&ta)).then(a.cmp(&b))
        });
        candidates
            .into_iter()
            .take(limit)
            .map(|i| self.products[i].clone())
            .collect()
    }

    /// Other products of the same category, ascending id after this one (wrapping around).
    pub fn related(&self, id: Id, limit: usize) -> Option<Vec<Product>> {
        let product = self.product(id)?;
        let ids = self
            .by_category
            .get(&product.category)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let pos = ids.partition_point(|&x| x <= id);
        Some(
            ids[pos..]
                .iter()
                .chain(ids[..pos].iter())
                .filter(|&&x| x != id)
                .take(limit)
                .filter_map(|&x| self.product(x).cloned())
                .collect(),
        )
    }

    /// Applies a patch to a product: 404 unknown, 422 `invalid_field` for bad values.
    pub fn patch_product(&mut self, id: Id, patch: ProductPatch) -> Result<Product, ApiError> {
        if patch.price_cents.is_some_and(|p| p <= 0) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "price_cents must be > 0",
            ));
        }
        if patch.inventory.is_some_and(|n| n < 0) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "inventory must be >= 0",
            ));
        }
        if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "name must not be empty",
            ));
        }
        let i = slot(id, self.products.len())
            .ok_or_else(|| ApiError::not_found(format!("product {id} not found")))?;
        let product = &mut self.products[i];
        if let Some(price) = patch.price_cents {
            product.price_cents = price;
        }
        if let Some(inventory) = patch.inventory {
            product.inventory = inventory;
        }
        if let Some(name) = patch.name {
            product.name = name;
        }
        if let Some(description) = patch.description {
            product.description = description;
        }
        Ok(product.clone())
    }

    // ---- orders ----

    /// One order.
    pub fn order(&self, id: Id) -> Option<&Order> {
        slot(id, self.orders.len()).map(|i| &self.orders[i])
    }

    /// Number of orders.
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    /// Orders with id < `before` (all when `None`), newest first.
    pub fn orders_newest_first(&self, before: Option<Id>) -> impl Iterator<Item = &Order> {
        let end = match before {
            Some(b) => (b.max(1) - 1).min(self.orders.len() as i64) as usize,
            None => self.orders.len(),
        };
        self.orders[..end].iter().rev()
    }

    /// Orders of a status with id < `before`, newest first.
    pub fn orders_with_status(
        &self,
        status: OrderStatus,
        before: Option<Id>,
    ) -> impl Iterator<Item = &Order> {
        let set = &self.orders_by_status[status_index(status)];
        let ids: Box<dyn Iterator<Item = &Id>> = match before {
            Some(b) => Box::new(set.range(..b).rev()),
            None => Box::new(set.iter().rev()),
        };
        ids.filter_map(|&id| self.order(id))
    }

    /// Orders of a user with id < `before`, newest first (empty for an unknown user).
    pub fn orders_of_user(&self, user_id: Id, before: Option<Id>) -> impl Iterator<Item = &Order> {
        let ids = slot(user_id, self.users.len())
            .map(|u| self.orders_by_user[u].as_slice())
            .unwrap_or_default();
        let start = before.map_or(0, |b| ids.partition_point(|&x| x >= b));
        ids[start..].iter().filter_map(|&id| self.order(id))
    }

    /// Counts by status and revenue of non-cancelled orders.
    pub fn order_stats(&self) -> OrderStats {
        OrderStats {
            count_by_status: OrderStatus::ALL
                .iter()
                .map(|s| {
                    (
                        s.as_str().to_owned(),
                        self.orders_by_status[status_index(*s)].len() as i64,
                    )
                })
                .collect(),
            revenue_cents: self.revenue_cents,
            currency: CURRENCY.to_owned(),
        }
    }

    /// Places an order: validates, prices from the catalogue and decrements stock.
    pub fn create_order(&mut self, new: NewOrder) -> Result<Order, ApiError> {
        let user_slot = slot(new.user_id, self.users.len()).ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_user",
                format!("user {} does not exist", new.user_id),
            )
        })?;
        if new.items.is_empty() {
            return Err(ApiError::unprocessable(
                "empty_order",
                "an order needs at least one item",
            ));
        }
        // Merge lines of the same product, keeping first-seen order.
        let mut lines: Vec<(Id, i64)> = Vec::new();
        for item in &new.items {
            if item.quantity <= 0 {
                return Err(ApiError::unprocessable(
                    "invalid_quantity",
                    format!("quantity of product {} must be > 0", item.product_id),
                ));
            }
            if self.product(item.product_id).is_none() {
                return Err(ApiError::unprocessable(
                    "unknown_product",
                    format!("product {} does not exist", item.product_id),
                ));
            }
            match lines.iter_mut().find(|(id, _)| *id == item.product_id) {
                Some((_, qty)) => *qty = qty.saturating_add(item.quantity),
                None => lines.push((item.product_id, item.quantity)),
            }
        }
        let mut items = Vec::with_capacity(lines.len());
        for &(product_id, quantity) in &lines {
            let Some(product) = self.product(product_id) else {
                continue;
            };
            if product.inventory < quantity {
                return Err(ApiError::unprocessable(
                    "insufficient_stock",
                    format!(
                        "product {product_id} has {} in stock, {quantity} requested",
                        product.inventory
                    ),
                ));
            }
            items.push(OrderItem {
                product_id,
                quantity,
                unit_price_cents: product.price_cents,
            });
        }
        for item in &items {
            self.products[(item.product_id - 1) as usize].inventory -= item.quantity;
        }
        let now = now_rfc3339();
        let order = Order {
            id: self.orders.len() as Id + 1,
            user_id: new.user_id,
            status: OrderStatus::Pending,
            total_cents: items
                .iter()
                .map(|it| it.quantity.saturating_mul(it.unit_price_cents))
                .sum(),
            items,
            currency: CURRENCY.to_owned(),
            created_at: now.clone(),
            updated_at: now,
        };
        self.orders_by_user[user_slot].insert(0, order.id);
        self.orders_by_status[status_index(order.status)].insert(order.id);
        self.revenue_cents += order.total_cents;
        self.orders.push(order.clone());
        Ok(order)
    }

    /// Moves an order to `status`: 404 unknown, 409 `invalid_transition`; cancelling restocks.
    pub fn set_order_status(&mut self, id: Id, status: OrderStatus) -> Result<Order, ApiError> {
        let i = slot(id, self.orders.len())
            .ok_or_else(|| ApiError::not_found(format!("order {id} not found")))?;
        let current = self.orders[i].status;
        if !current.can_become(status) {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "invalid_transition",
                format!(
                    "order {id} cannot go from {} to {}",
                    current.as_str(),
                    status.as_str()
                ),
            ));
        }
        self.orders_by_status[status_index(current)].remove(&id);
        self.orders_by_status[status_index(status)].insert(id);
        if status == OrderStatus::Cancelled {
            self.revenue_cents -= self.orders[i].total_cents;
            for item in &self.orders[i].items {
                if let Some(p) = slot(item.product_id, self.products.len()) {
                    self.products[p].inventory += item.quantity;
                }
            }
        }
        let order = &mut self.orders[i];
        order.status = status;
        order.updated_at = now_rfc3339();
        Ok(order.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Dataset {
        Dataset::generate(DataSizes {
            users: 200,
            products: 100,
            orders: 2000,
            seed: 42,
        })
    }

    #[test]
    fn generation_is_deterministic_and_consistent() {
        let a = small();
        let b = small();
        assert_eq!(a.orders, b.orders);
        assert_eq!(a.products, b.products);
        assert_eq!(a.user(1).map(|u| u.role), Some(Role::Admin));
        assert!(a.orders_of_user(2, None).count() >= 5);
        for p in a.products() {
            assert!(
                (1000..=3200).contains(&p.description.len()),
                "{}",
                p.description.len()
            );
            assert!((1..=6).contains(&p.images.len()));
            assert!((3..=8).contains(&p.specifications.len()));
        }
        for o in &a.orders {
            assert!((1..=5).contains(&o.items.len()));
            let total: i64 = o
                .items
                .iter()
                .map(|i| i.quantity * i.unit_price_cents)
                .sum();
            assert_eq!(total, o.total_cents);
        }
        let newest: Vec<Id> = a.orders_of_user(2, None).map(|o| o.id).collect();
        assert!(newest.windows(2).all(|w| w[0] > w[1]));
    }
}
