//! The report categories (docs/open311.md): Open311 service codes with their Vietnamese names.
//!
//! Validation needs the codes, the API renders the names and analytics keys SLAs by code, so
//! the catalogue lives here, next to the event model.

/// An extra field a category asks for (an Open311 service-definition attribute).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attribute {
    /// Attribute code, posted as `attribute[code]`.
    pub code: &'static str,
    /// Question shown to the citizen, in Vietnamese.
    pub description: &'static str,
    /// Open311 datatype (`number`, `string`, …).
    pub datatype: &'static str,
    /// Whether a report of the category must carry it.
    pub required: bool,
    /// Smallest and largest accepted value of a `number` attribute.
    pub range: (f64, f64),
}

/// One report category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Service {
    /// Open311 `service_code`.
    pub code: &'static str,
    /// `service_name`, Vietnamese.
    pub name: &'static str,
    /// `group`, Vietnamese.
    pub group: &'static str,
    /// `description`, Vietnamese.
    pub description: &'static str,
    /// Default time to resolve, hours (configurable in analytics).
    pub sla_hours: f64,
    /// Extra fields of the category.
    pub attributes: &'static [Attribute],
}

/// The flood-depth attribute of `flooding` reports.
const FLOOD_DEPTH: Attribute = Attribute {
    code: "depth_cm",
    description: "Độ sâu ngập ước tính (cm)",
    datatype: "number",
    required: false,
    range: (0.0, 1000.0),
};

/// The nine categories, in display order.
pub const SERVICES: [Service; 9] = [
    Service {
        code: "traffic",
        name: "Giao thông",
        group: "Hạ tầng đô thị",
        description: "Ùn tắc, tai nạn, hư hỏng mặt đường, đèn tín hiệu giao thông",
        sla_hours: 24.0,
        attributes: &[],
    },
    Service {
        code: "flooding",
        name: "Ngập úng",
        group: "Hạ tầng đô thị",
        description: "Điểm ngập, cống thoát nước tắc",
        sla_hours: 4.0,
        attributes: &[FLOOD_DEPTH],
    },
    Service {
        code: "environment",
        name: "Môi trường, rác thải",
        group: "Môi trường",
        description: "Rác thải, ô nhiễm không khí, nước, tiếng ồn",
        sla_hours: 72.0,
        attributes: &[],
    },
    Service {
        code: "urban_order",
        name: "Trật tự đô thị",
        group: "Trật tự đô thị",
        description: "Lấn chiếm vỉa hè, xây dựng trái phép, quảng cáo sai quy định",
        sla_hours: 48.0,
        attributes: &[],
    },
    Service {
        code: "health",
        name: "Y tế",
        group: "Xã hội",
        description: "An toàn thực phẩm, dịch bệnh, cơ sở y tế",
        sla_hours: 24.0,
        attributes: &[],
    },
    Service {
        code: "security",
        name: "An ninh trật tự",
        group: "An ninh",
        description: "Gây rối trật tự công cộng, trộm cắp, tụ tập đông người",
        sla_hours: 12.0,
        attributes: &[],
    },
    Service {
        code: "utilities",
        name: "Điện, nước, chiếu sáng",
        group: "Hạ tầng đô thị",
        description: "Mất điện, mất nước, đèn chiếu sáng công cộng hỏng",
        sla_hours: 24.0,
        attributes: &[],
    },
    Service {
        code: "education",
        name: "Giáo dục",
        group: "Xã hội",
        description: "Trường học, thu chi, an toàn học đường",
        sla_hours: 120.0,
        attributes: &[],
    },
    Service {
        code: "public_services",
        name: "Thủ tục hành chính",
        group: "Dịch vụ công",
        description: "Hồ sơ chậm, thái độ cán bộ, dịch vụ công trực tuyến",
        sla_hours: 120.0,
        attributes: &[],
    },
];

/// The category with this code.
pub fn service(code: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|service| service.code == code)
}
