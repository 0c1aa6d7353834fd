//! What the typed reads are built on: a transaction that can open tables for reading.
//!
//! The module is private to `store`, so nothing outside it can name [`Tx`] or call
//! [`Tx::table`]: outside code sees only the typed reads that have `Tx` as their
//! supertrait (a sealed trait).

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use super::{Snapshot, StoreError, WriteCtx};

/// A transaction that can open tables for reading: read and write transactions alike.
pub trait Tx {
    type Table<'t, K: redb::Key + 'static, V: redb::Value + 'static>: ReadableTable<K, V>
    where
        Self: 't;

    fn table<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
        &'t self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'t, K, V>, StoreError>;
}

impl Tx for ReadTransaction {
    type Table<'t, K: redb::Key + 'static, V: redb::Value + 'static> = redb::ReadOnlyTable<K, V>;

    fn table<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
        &'t self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'t, K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }
}

impl Tx for WriteTransaction {
    type Table<'t, K: redb::Key + 'static, V: redb::Value + 'static> = redb::Table<'t, K, V>;

    fn table<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
        &'t self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'t, K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }
}

impl Tx for Snapshot {
    type Table<'t, K: redb::Key + 'static, V: redb::Value + 'static> = redb::ReadOnlyTable<K, V>;

    fn table<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
        &'t self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'t, K, V>, StoreError> {
        Ok(self.0.open_table(def)?)
    }
}

impl Tx for WriteCtx<'_> {
    type Table<'t, K: redb::Key + 'static, V: redb::Value + 'static>
        = redb::Table<'t, K, V>
    where
        Self: 't;

    fn table<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
        &'t self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'t, K, V>, StoreError> {
        Ok(self.tx.open_table(def)?)
    }
}
