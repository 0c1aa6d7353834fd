//! A contact ([MS-ASCNTC] 2.2.2, with the Contacts2 code page).

use serde::{Deserialize, Serialize};

use super::{
    BadValue, Body, Extra, Mode, Stamp, read_body, read_children, read_list, record,
    write_body_and_extra, write_list, write_scalars,
};
use crate::proto::version::ProtocolVersion;
use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase, contacts as c, contacts2 as c2};

/// The longest Picture a contact may carry: 48 KB of base64 ([MS-ASCNTC] 2.2.2.58; more is
/// Status 6).
pub const MAX_PICTURE: usize = 48 * 1024;

record! {
    /// A contact: every element of [MS-ASCNTC] 2.2.2 and Contacts2.
    pub struct Contact {
        anniversary: Stamp = c::ANNIVERSARY;
        assistant_name: String = c::ASSISTANT_NAME;
        assistant_phone_number: String = c::ASSISTANT_PHONE_NUMBER;
        birthday: Stamp = c::BIRTHDAY;
        business2_phone_number: String = c::BUSINESS2_PHONE_NUMBER;
        business_address_city: String = c::BUSINESS_ADDRESS_CITY;
        business_address_country: String = c::BUSINESS_ADDRESS_COUNTRY;
        business_address_postal_code: String = c::BUSINESS_ADDRESS_POSTAL_CODE;
        business_address_state: String = c::BUSINESS_ADDRESS_STATE;
        business_address_street: String = c::BUSINESS_ADDRESS_STREET;
        business_fax_number: String = c::BUSINESS_FAX_NUMBER;
        business_phone_number: String = c::BUSINESS_PHONE_NUMBER;
        car_phone_number: String = c::CAR_PHONE_NUMBER;
        company_name: String = c::COMPANY_NAME;
        department: String = c::DEPARTMENT;
        email1_address: String = c::EMAIL1_ADDRESS;
        email2_address: String = c::EMAIL2_ADDRESS;
        email3_address: String = c::EMAIL3_ADDRESS;
        file_as: String = c::FILE_AS;
        first_name: String = c::FIRST_NAME;
        home2_phone_number: String = c::HOME2_PHONE_NUMBER;
        home_address_city: String = c::HOME_ADDRESS_CITY;
        home_address_country: String = c::HOME_ADDRESS_COUNTRY;
        home_address_postal_code: String = c::HOME_ADDRESS_POSTAL_CODE;
        home_address_state: String = c::HOME_ADDRESS_STATE;
        home_address_street: String = c::HOME_ADDRESS_STREET;
        home_fax_number: String = c::HOME_FAX_NUMBER;
        home_phone_number: String = c::HOME_PHONE_NUMBER;
        job_title: String = c::JOB_TITLE;
        last_name: String = c::LAST_NAME;
        middle_name: String = c::MIDDLE_NAME;
        mobile_phone_number: String = c::MOBILE_PHONE_NUMBER;
        office_location: String = c::OFFICE_LOCATION;
        other_address_city: String = c::OTHER_ADDRESS_CITY;
        other_address_country: String = c::OTHER_ADDRESS_COUNTRY;
        other_address_postal_code: String = c::OTHER_ADDRESS_POSTAL_CODE;
        other_address_state: String = c::OTHER_ADDRESS_STATE;
        other_address_street: String = c::OTHER_ADDRESS_STREET;
        pager_number: String = c::PAGER_NUMBER;
        radio_phone_number: String = c::RADIO_PHONE_NUMBER;
        spouse: String = c::SPOUSE;
        suffix: String = c::SUFFIX;
        title: String = c::TITLE;
        web_page: String = c::WEB_PAGE;
        yomi_company_name: String = c::YOMI_COMPANY_NAME;
        yomi_first_name: String = c::YOMI_FIRST_NAME;
        yomi_last_name: String = c::YOMI_LAST_NAME;
        alias: String = c::ALIAS, since V14_0;
        weighted_rank: i32 = c::WEIGHTED_RANK, since V14_0;
        customer_id: String = c2::CUSTOMER_ID;
        government_id: String = c2::GOVERNMENT_ID;
        im_address: String = c2::IM_ADDRESS;
        im_address2: String = c2::IM_ADDRESS2;
        im_address3: String = c2::IM_ADDRESS3;
        manager_name: String = c2::MANAGER_NAME;
        company_main_phone: String = c2::COMPANY_MAIN_PHONE;
        account_name: String = c2::ACCOUNT_NAME;
        nick_name: String = c2::NICK_NAME;
        mms: String = c2::MMS;
        -- pub categories: Vec<String>,
        -- pub children: Vec<String>,
        -- /// The photo, base64 as sent.
        pub picture: Option<String>,
        -- pub body: Option<Body>,
        -- pub extra: Extra,
        -- /// The vCard UID of a contact imported from a vCard file (`easd import`), by which
        /// a re-run knows it; no EAS element, never sent to a device, kept by Changes.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub uid: Option<String>,
    }
}

impl Contact {
    pub fn parse(data: &Element, mode: Mode) -> Result<Contact, BadValue> {
        let mut contact = Contact::default();
        let kept = read_children(&mut contact, data, mode, |r, e| {
            match e.tag {
                c::CATEGORIES => r.categories = read_list(e, c::CATEGORY),
                c::CHILDREN => r.children = read_list(e, c::CHILD),
                c::PICTURE => {
                    let text = e.text().unwrap_or_default().trim();
                    if text.len() > MAX_PICTURE {
                        return Err(BadValue(format!(
                            "Picture of {} bytes is over {MAX_PICTURE}",
                            text.len()
                        )));
                    }
                    r.picture = (!text.is_empty()).then(|| text.to_owned());
                }
                airsyncbase::BODY => r.body = Some(read_body(e)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        contact.extra = Extra::of(kept);
        Ok(contact)
    }

    pub fn render(&self, version: ProtocolVersion) -> Element {
        let mut out = Element::new(airsync::APPLICATION_DATA);
        write_scalars(self, &mut out, version);
        write_list(&mut out, c::CATEGORIES, c::CATEGORY, &self.categories);
        write_list(&mut out, c::CHILDREN, c::CHILD, &self.children);
        if let Some(p) = &self.picture {
            out.push_text(c::PICTURE, p.clone());
        }
        write_body_and_extra(&mut out, self.body.as_ref(), &self.extra);
        out
    }
}
