//! The global address list as the commands show it: an entry's `gal:` properties
//! ([MS-ASCMD] 2.2.3.142.2, code page 16) and its photo under a request's Picture options
//! (2.2.3.135 Picture, 2.2.3.104 MaxSize, 2.2.3.105 MaxPictures): shared by Search,
//! ResolveRecipients and Find.

use crate::directory::entry::MAX_PHOTO;
use crate::directory::gal::{GalEntry, Property};
use crate::proto::status::command_status;
use crate::store::model::StoredBytes;
use crate::store::{Store, StoreError};
use crate::wbxml::{Element, Tag, tag::gal};

command_status! {
    /// The Status of a Picture element ([MS-ASCMD] 2.2.3.177.12, 2.2.3.177.13).
    pub enum PictureStatus {
        Ok = 1,
        /// The contact has no photo.
        NoPhoto = 173,
        /// The photo is larger than MaxSize.
        TooLarge = 174,
        /// MaxPictures photos were returned already.
        LimitReached = 175,
    }
}

/// A request's Picture options and the photos handed out so far under them.
#[derive(Debug)]
pub struct Pictures {
    max_size: u32,
    max_pictures: Option<u32>,
    given: u32,
    /// Photo bytes the response may still carry (`[limits] max_response`).
    room: usize,
}

impl Pictures {
    /// Reads a Picture element whose MaxSize and MaxPictures children carry these tags.
    /// Both are optional (iOS sends an empty Picture); `None` when one is not a number.
    /// MaxSize is never above what a photo may be ([`MAX_PHOTO`]).
    /// Photos stop (Status 175) before they would take the response past `room` bytes.
    pub fn parse(picture: &Element, max_size: Tag, max_pictures: Tag, room: usize) -> Option<Self> {
        let number = |tag| -> Option<Option<u32>> {
            match picture.text_of(tag) {
                None => Some(None),
                Some(t) => t.trim().parse().ok().map(Some),
            }
        };
        Some(Pictures {
            max_size: number(max_size)?.map_or(MAX_PHOTO as u32, |m| m.min(MAX_PHOTO as u32)),
            max_pictures: number(max_pictures)?,
            given: 0,
            room,
        })
    }

    /// The Picture element for an entry with `photo`, its bytes read from the store when
    /// it is sent; `tags` are the command's Picture, Status and Data tags.
    pub fn picture(
        &mut self,
        store: &Store,
        photo: Option<&StoredBytes>,
        tags: [Tag; 3],
    ) -> Result<Element, StoreError> {
        let [picture, status, data] = tags;
        let answer = |s: PictureStatus| Element::new(picture).text_child(status, s.to_string());
        let Some(photo) = photo else {
            return Ok(answer(PictureStatus::NoPhoto));
        };
        if photo.size > self.max_size {
            return Ok(answer(PictureStatus::TooLarge));
        }
        let size = photo.size as usize;
        if self.max_pictures.is_some_and(|m| self.given >= m) || size > self.room {
            return Ok(answer(PictureStatus::LimitReached));
        }
        self.given += 1;
        self.room -= size;
        let bytes = store.blobs().read(&photo.blob)?;
        Ok(answer(PictureStatus::Ok).opaque_child(data, bytes))
    }
}

/// The Picture, Status and Data tags of the `gal:` code page (Search, Find).
pub const GAL_PICTURE: [Tag; 3] = [gal::PICTURE, gal::STATUS, gal::DATA];

/// An entry's `gal:` properties, in the code page's order: only those it has, except
/// FirstName and LastName, which are always sent (LastName falling back to the display
/// name), as clients such as Nokia's need them (grommunio-sync's GAL search does the
/// same).
pub fn gal_properties(entry: &GalEntry) -> Vec<Element> {
    let tag = |p: Property| match p {
        Property::DisplayName => gal::DISPLAY_NAME,
        Property::Phone => gal::PHONE,
        Property::Office => gal::OFFICE,
        Property::Title => gal::TITLE,
        Property::Company => gal::COMPANY,
        Property::Alias => gal::ALIAS,
        Property::FirstName => gal::FIRST_NAME,
        Property::LastName => gal::LAST_NAME,
        Property::HomePhone => gal::HOME_PHONE,
        Property::MobilePhone => gal::MOBILE_PHONE,
        Property::EmailAddress => gal::EMAIL_ADDRESS,
    };
    let order = [
        Property::DisplayName,
        Property::Phone,
        Property::Office,
        Property::Title,
        Property::Company,
        Property::Alias,
        Property::FirstName,
        Property::LastName,
        Property::HomePhone,
        Property::MobilePhone,
        Property::EmailAddress,
    ];
    order
        .into_iter()
        .filter_map(|p| {
            let value = match (p, entry.get(p)) {
                (Property::LastName, "") => entry.display_name(),
                (Property::FirstName, v) => v,
                (_, "") => return None,
                (_, v) => v,
            };
            Some(Element::with_text(tag(p), value))
        })
        .collect()
}
