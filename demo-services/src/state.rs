//! The state every service handler gets: the shared dataset behind a lock plus the service's control.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::{control::ServiceControl, data::Dataset};

/// Dataset shared by the three services (std lock: never held across an await).
pub type SharedData = Arc<RwLock<Dataset>>;

/// State of one service's router.
#[derive(Debug, Clone)]
pub struct AppState {
    pub data: SharedData,
    pub control: Arc<ServiceControl>,
}

impl AppState {
    /// Read access to the dataset (a poisoned lock is recovered: the data stays usable).
    pub fn read(&self) -> RwLockReadGuard<'_, Dataset> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the dataset.
    pub fn write(&self) -> RwLockWriteGuard<'_, Dataset> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }
}
