//! Citizens: deterministic reports (phản ánh) with Vietnamese descriptions per category, spread
//! over the areas, and the `report-burst` cluster (several reports of one category within a few
//! hundred metres) an operator must see.

use crate::rng::Rng;
use ioc_ingest::Areas;

/// One report a simulated citizen posts.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedReport {
    /// Open311 `service_code`.
    pub service_code: &'static str,
    /// Area it is placed in (its centroid's neighbourhood).
    pub area: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Vietnamese description.
    pub description: String,
    /// Address line.
    pub address: String,
    /// Flood depth (cm) for `flooding` reports.
    pub depth_cm: Option<u32>,
}

/// Categories and how often citizens report them (Hanoi's mix: environment and urban order
/// lead, flooding in the rainy season).
const CATEGORIES: [(&str, f64); 9] = [
    ("environment", 0.22),
    ("urban_order", 0.18),
    ("traffic", 0.16),
    ("utilities", 0.12),
    ("flooding", 0.10),
    ("security", 0.08),
    ("public_services", 0.06),
    ("health", 0.05),
    ("education", 0.03),
];

/// Description templates per category; `{street}` is replaced by a street name.
fn templates(code: &str) -> &'static [&'static str] {
    match code {
        "environment" => &[
            "Rác thải tập kết bừa bãi trên vỉa hè phố {street}, bốc mùi hôi thối.",
            "Khói đốt rác ở cuối phố {street} gây ô nhiễm, người dân khó thở.",
            "Xe chở phế thải đổ trộm ra bãi đất trống gần {street}.",
        ],
        "urban_order" => &[
            "Hàng quán lấn chiếm toàn bộ vỉa hè phố {street}, người đi bộ phải xuống lòng đường.",
            "Công trình xây dựng trái phép không che chắn tại số 25 {street}.",
            "Biển quảng cáo sai quy định treo dày đặc trên phố {street}.",
        ],
        "traffic" => &[
            "Ổ gà lớn giữa đường {street}, nhiều xe máy suýt ngã.",
            "Đèn tín hiệu giao thông ngã tư {street} không hoạt động.",
            "Ùn tắc kéo dài trên phố {street} do xe đỗ sai quy định.",
        ],
        "utilities" => &[
            "Đèn chiếu sáng công cộng phố {street} hỏng cả tuần nay.",
            "Mất nước sinh hoạt khu dân cư gần {street} từ sáng.",
            "Dây điện võng thấp nguy hiểm trước số 8 {street}.",
        ],
        "flooding" => &[
            "Ngập sâu trên phố {street} sau mưa lớn, xe máy chết máy hàng loạt.",
            "Cống thoát nước tắc, nước tràn vào nhà dân phố {street}.",
            "Nước ngập ngang bánh xe tại ngã ba {street}.",
        ],
        "security" => &[
            "Nhóm thanh niên tụ tập gây mất trật tự về đêm ở phố {street}.",
            "Trộm cắp xe máy xảy ra liên tục tại khu vực {street}.",
        ],
        "public_services" => &[
            "Hồ sơ cấp giấy phép xây dựng nộp tại phường {street} quá hạn chưa trả kết quả.",
            "Cổng dịch vụ công trực tuyến báo lỗi khi nộp hồ sơ, cán bộ hướng dẫn chưa rõ.",
        ],
        "health" => &[
            "Cơ sở kinh doanh thực phẩm không rõ nguồn gốc trên phố {street}.",
            "Phát hiện nhiều bọ gậy, nguy cơ sốt xuất huyết tại ngõ {street}.",
        ],
        _ => &[
            "Cổng trường học trên phố {street} ùn tắc giờ tan học, thiếu người phân luồng.",
            "Phụ huynh phản ánh thu các khoản ngoài quy định tại trường gần {street}.",
        ],
    }
}

/// Street names used in descriptions and addresses.
const STREETS: [&str; 12] = [
    "Hàng Bạc",
    "Kim Mã",
    "Láng Hạ",
    "Nguyễn Trãi",
    "Giải Phóng",
    "Trần Duy Hưng",
    "Phạm Văn Đồng",
    "Nguyễn Văn Cừ",
    "Lạc Long Quân",
    "Minh Khai",
    "Cầu Giấy",
    "Hoàng Quốc Việt",
];

/// Draws citizen reports from one seeded stream: the same seed gives the same reports.
pub struct Citizens {
    rng: Rng,
    areas: Areas,
}

impl Citizens {
    /// Citizens of `areas` for `seed`.
    pub fn new(seed: u64, areas: Areas) -> Self {
        Self {
            rng: Rng::derive(seed, "citizens"),
            areas,
        }
    }

    fn report_at(&mut self, code: &'static str, area: usize, lat: f64, lon: f64) -> PlannedReport {
        let street = STREETS[self.rng.below(STREETS.len())];
        let options = templates(code);
        let description = options[self.rng.below(options.len())].replace("{street}", street);
        let area = &self.areas.all()[area];
        PlannedReport {
            service_code: code,
            area: area.id.clone(),
            lat: (lat * 1e5).round() / 1e5,
            lon: (lon * 1e5).round() / 1e5,
            description,
            address: format!("{street}, {}, Hà Nội", area.name),
            depth_cm: (code == "flooding").then(|| 10 + self.rng.below(60) as u32),
        }
    }

    /// One report somewhere in the city.
    pub fn next_report(&mut self) -> PlannedReport {
        let weights: Vec<f64> = CATEGORIES.iter().map(|(_, w)| *w).collect();
        let code = CATEGORIES[self.rng.weighted(&weights)].0;
        let index = self.rng.below(self.areas.len().max(1));
        let centre = &self.areas.all()[index];
        // Within about 1.5 km of the centroid.
        let lat = centre.lat + self.rng.range(-0.013, 0.013);
        let lon = centre.lon + self.rng.range(-0.013, 0.013);
        self.report_at(code, index, lat, lon)
    }

    /// A burst: `n` reports of one category within about 150 m of one point.
    pub fn burst(&mut self, n: usize) -> Vec<PlannedReport> {
        let index = self.rng.below(self.areas.len().max(1));
        let centre = self.areas.all()[index].clone();
        (0..n)
            .map(|_| {
                let lat = centre.lat + self.rng.range(-0.0013, 0.0013);
                let lon = centre.lon + self.rng.range(-0.0013, 0.0013);
                self.report_at("flooding", index, lat, lon)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_reports_and_bursts_cluster() {
        let mut a = Citizens::new(7, Areas::hanoi());
        let mut b = Citizens::new(7, Areas::hanoi());
        for _ in 0..50 {
            let report = a.next_report();
            assert_eq!(report, b.next_report());
            assert!(!report.description.contains("{street}"));
            assert!(Areas::hanoi().locate(report.lat, report.lon).is_ok());
        }
        let burst = a.burst(6);
        assert_eq!(burst.len(), 6);
        let (lat0, lon0) = (burst[0].lat, burst[0].lon);
        for report in &burst {
            assert_eq!(report.service_code, "flooding");
            // 300 m is about 0.0027° of latitude.
            assert!((report.lat - lat0).abs() < 0.0027 && (report.lon - lon0).abs() < 0.0029);
        }
    }
}
