// Vietnamese (default) and English texts, and the remembered language choice.

const TEXTS = {
  vi: {
    title: "IOC Hà Nội · Trung tâm giám sát, điều hành",
    nav_wall: "Bản đồ",
    live: "Trực tuyến",
    reconnecting: "Đang kết nối lại…",
    offline: "Mất kết nối",
    age: (s) => `dữ liệu ${s} giây trước`,
    age_none: "chưa có dữ liệu",
    sign_out: "Đăng xuất",
    signin_title: "Đăng nhập",
    signin_help: "Dán mã truy cập (token) do quản trị viên cấp, hoặc mở đường dẫn mà lệnh ioc demo in ra.",
    signin_token: "Mã truy cập",
    signin_submit: "Đăng nhập",
    signin_expired: "Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại với mã mới.",
    signin_invalid: "Mã truy cập không hợp lệ. Kiểm tra lại và dán mã mới.",
    signin_unreachable: "Không liên lạc được với máy chủ. Thử lại sau.",
    kpi_events_total: "Sự kiện đã nhận",
    kpi_events_per_sec: "Sự kiện / giây",
    kpi_alerts_active: "Cảnh báo đang mở",
    kpi_reports_open: "Phản ánh đang xử lý",
    kpi_reports_overdue: "Phản ánh quá hạn",
    kpi_reports_on_time_pct: "Giải quyết đúng hạn (%)",
    kpi_satisfaction: "Hài lòng (điểm 1–5)",
    kpi_dossiers: "Hồ sơ DVC (NQ 17)",
    dossier_online: "trực tuyến",
    dossier_level4: "mức độ 4",
    dossier_on_time: "đúng hạn",
    target: "mục tiêu",
    layer_aqi: "Chất lượng không khí",
    layer_congestion: "Ùn tắc",
    layer_flood: "Ngập úng",
    layer_reports: "Phản ánh",
    layer_alerts: "Cảnh báo",
    no_data: "không có dữ liệu",
    out_of_scope: "ngoài phạm vi",
    congestion_low: "thông thoáng",
    congestion_mid: "đông",
    congestion_high: "chậm",
    congestion_jam: "ùn tắc",
    flood_dry: "khô / thấp",
    flood_rising: "có nước",
    flood_alert: "vượt mức báo động",
    flood_danger: "vượt mức nguy hiểm",
    reports_none: "không có",
    reports_open: "đang mở",
    reports_many: "nhiều (≥ 5)",
    reports_overdue: "có quá hạn",
    alerts_none: "không có",
    ranking: "Xếp hạng khu vực",
    alerts: "Cảnh báo",
    alerts_empty: "Không có cảnh báo nào đang mở.",
    ack: "Tiếp nhận",
    resolve: "Đóng",
    acked_by: (who, when) => `${who} tiếp nhận lúc ${when}`,
    severity_critical: "Khẩn cấp",
    severity_major: "Nghiêm trọng",
    severity_minor: "Trung bình",
    severity_warning: "Lưu ý",
    state_active: "Mới",
    state_acknowledged: "Đã tiếp nhận",
    state_resolved: "Đã đóng",
    reports: "Phản ánh của người dân",
    reports_empty: "Không có phản ánh phù hợp.",
    filter_status: "Trạng thái",
    filter_area: "Khu vực",
    filter_category: "Lĩnh vực",
    all: "Tất cả",
    status_open: "Chưa xong",
    status_closed: "Đã xong",
    status_received: "Mới nhận",
    status_assigned: "Đã giao",
    status_in_progress: "Đang xử lý",
    status_resolved: "Đã giải quyết",
    status_rejected: "Từ chối",
    status_duplicate: "Trùng lặp",
    overdue: "QUÁ HẠN",
    due: "hạn",
    agency: "Cơ quan",
    assign: "Giao",
    set_status: "Đổi",
    no_agency: "chưa giao",
    back: "← Bản đồ thành phố",
    sources: "Nguồn dữ liệu",
    source: "Nguồn",
    kind: "Loại",
    last_values: "Giá trị gần nhất",
    age_col: "Cách đây",
    stale: "MẤT TÍN HIỆU",
    charts: "60 phút qua (trung bình mỗi phút)",
    open_reports: "Phản ánh đang mở",
    area_alerts: "Cảnh báo của khu vực",
    rank: "Hạng",
    aqi: "AQI",
    pm25: "PM2.5 1 giờ",
    speed: "Tốc độ 5 phút",
    congestion: "Ùn tắc",
    water: "Mực nước cao nhất",
    noise: "Tiếng ồn 5 phút",
    area_forbidden: "Khu vực này nằm ngoài phạm vi của bạn.",
    action_failed: "Thao tác không thành công",
    seconds: "giây",
    minutes: "phút",
    hours: "giờ",
    kind_traffic: "Giao thông",
    kind_air_quality: "Không khí",
    kind_water_level: "Mực nước",
    kind_noise: "Tiếng ồn",
    kind_dossier: "Hồ sơ",
    signed_in_as: (sub, role) => `${sub} · ${role}`,
    role_viewer: "xem",
    role_operator: "điều hành",
    role_admin: "quản trị",
    scope: (n) => `phạm vi: ${n} khu vực`,
    inner_city: "Nội thành (phóng to)",
    minus_60: "−60 phút",
    now: "bây giờ",
    field_pm25: "Bụi PM2.5", field_pm10: "Bụi PM10", field_no2: "NO₂", field_o3: "O₃", field_co: "CO", field_so2: "SO₂",
    field_temperature: "Nhiệt độ", field_humidity: "Độ ẩm", field_speed: "Tốc độ xe", field_intensity: "Lưu lượng xe",
    field_occupancy: "Mật độ chiếm dụng", field_level_cm: "Mực nước", field_laeq: "Tiếng ồn LAeq", field_lamax: "Tiếng ồn LAmax",

  },
  en: {
    title: "Hanoi IOC · Operations Center",
    nav_wall: "Map",
    live: "Live",
    reconnecting: "Reconnecting…",
    offline: "Offline",
    age: (s) => `data ${s} s old`,
    age_none: "no data yet",
    sign_out: "Sign out",
    signin_title: "Sign in",
    signin_help: "Paste the access token your administrator gave you, or open the link that ioc demo prints.",
    signin_token: "Access token",
    signin_submit: "Sign in",
    signin_expired: "Your session has expired. Sign in again with a new token.",
    signin_invalid: "This access token is not valid. Check it and paste a new one.",
    signin_unreachable: "The server cannot be reached. Try again later.",
    kpi_events_total: "Events received",
    kpi_events_per_sec: "Events / second",
    kpi_alerts_active: "Open alerts",
    kpi_reports_open: "Open reports",
    kpi_reports_overdue: "Overdue reports",
    kpi_reports_on_time_pct: "Resolved on time (%)",
    kpi_satisfaction: "Satisfaction (1–5)",
    kpi_dossiers: "Dossiers (Res. 17)",
    dossier_online: "online",
    dossier_level4: "level 4",
    dossier_on_time: "on time",
    target: "target",
    layer_aqi: "Air quality",
    layer_congestion: "Congestion",
    layer_flood: "Flooding",
    layer_reports: "Reports",
    layer_alerts: "Alerts",
    no_data: "no data",
    out_of_scope: "outside your scope",
    congestion_low: "free flow",
    congestion_mid: "busy",
    congestion_high: "slow",
    congestion_jam: "jammed",
    flood_dry: "dry / low",
    flood_rising: "water present",
    flood_alert: "above alert level",
    flood_danger: "above danger level",
    reports_none: "none",
    reports_open: "open",
    reports_many: "many (≥ 5)",
    reports_overdue: "some overdue",
    alerts_none: "none",
    ranking: "Area ranking",
    alerts: "Alerts",
    alerts_empty: "No open alerts.",
    ack: "Acknowledge",
    resolve: "Close",
    acked_by: (who, when) => `acknowledged by ${who} at ${when}`,
    severity_critical: "Critical",
    severity_major: "Major",
    severity_minor: "Minor",
    severity_warning: "Warning",
    state_active: "New",
    state_acknowledged: "Acknowledged",
    state_resolved: "Closed",
    reports: "Citizen reports",
    reports_empty: "No matching reports.",
    filter_status: "Status",
    filter_area: "Area",
    filter_category: "Category",
    all: "All",
    status_open: "Not finished",
    status_closed: "Finished",
    status_received: "Received",
    status_assigned: "Assigned",
    status_in_progress: "In progress",
    status_resolved: "Resolved",
    status_rejected: "Rejected",
    status_duplicate: "Duplicate",
    overdue: "OVERDUE",
    due: "due",
    agency: "Agency",
    assign: "Assign",
    set_status: "Set",
    no_agency: "unassigned",
    back: "← City map",
    sources: "Sources",
    source: "Source",
    kind: "Kind",
    last_values: "Last values",
    age_col: "Age",
    stale: "STALE",
    charts: "Last 60 minutes (mean per minute)",
    open_reports: "Open reports",
    area_alerts: "Alerts in this area",
    rank: "Rank",
    aqi: "AQI",
    pm25: "PM2.5 1 h",
    speed: "Speed 5 min",
    congestion: "Congestion",
    water: "Highest water level",
    noise: "Noise 5 min",
    area_forbidden: "This area is outside your scope.",
    action_failed: "The action failed",
    seconds: "s",
    minutes: "min",
    hours: "h",
    kind_traffic: "Traffic",
    kind_air_quality: "Air",
    kind_water_level: "Water level",
    kind_noise: "Noise",
    kind_dossier: "Dossiers",
    signed_in_as: (sub, role) => `${sub} · ${role}`,
    role_viewer: "viewer",
    role_operator: "operator",
    role_admin: "admin",
    scope: (n) => `scope: ${n} areas`,
    inner_city: "Urban core (zoomed in)",
    minus_60: "−60 min",
    now: "now",
    field_pm25: "PM2.5", field_pm10: "PM10", field_no2: "NO₂", field_o3: "O₃", field_co: "CO", field_so2: "SO₂",
    field_temperature: "Temperature", field_humidity: "Humidity", field_speed: "Traffic speed", field_intensity: "Traffic flow",
    field_occupancy: "Occupancy", field_level_cm: "Water level", field_laeq: "Noise LAeq", field_lamax: "Noise LAmax",

  },
};

/** VN_AQI bands (Decision 1459/QĐ-TCMT): key, upper bound, official colour, names. */
export const AQI_BANDS = [
  { key: "good", max: 50, color: "#00E400", vi: "Tốt", en: "Good" },
  { key: "moderate", max: 100, color: "#FFFF00", vi: "Trung bình", en: "Moderate" },
  { key: "poor", max: 150, color: "#FF7E00", vi: "Kém", en: "Poor" },
  { key: "bad", max: 200, color: "#FF0000", vi: "Xấu", en: "Bad" },
  { key: "very_bad", max: 300, color: "#8F3F97", vi: "Rất xấu", en: "Very bad" },
  { key: "hazardous", max: 500, color: "#7E0023", vi: "Nguy hại", en: "Hazardous" },
];

/** Report categories (Open311 service codes) with their Vietnamese and English names. */
export const CATEGORIES = {
  traffic: { vi: "Giao thông", en: "Traffic" },
  flooding: { vi: "Ngập úng", en: "Flooding" },
  environment: { vi: "Môi trường, rác thải", en: "Environment, waste" },
  urban_order: { vi: "Trật tự đô thị", en: "Urban order" },
  health: { vi: "Y tế", en: "Health" },
  security: { vi: "An ninh trật tự", en: "Public security" },
  utilities: { vi: "Điện, nước, chiếu sáng", en: "Power, water, lighting" },
  education: { vi: "Giáo dục", en: "Education" },
  public_services: { vi: "Thủ tục hành chính", en: "Public services" },
};

const STORAGE_KEY = "ioc_lang";
let current = localStorage.getItem(STORAGE_KEY) === "en" ? "en" : "vi";
const listeners = [];

/** The current language, `vi` or `en`. */
export function lang() {
  return current;
}

/** A text in the current language; functions take the arguments given. */
export function t(key, ...args) {
  const value = TEXTS[current][key] ?? TEXTS.vi[key] ?? key;
  return typeof value === "function" ? value(...args) : value;
}

/** Switches the language, remembers it, updates `<html lang>` and static texts. */
export function setLang(next) {
  current = next === "en" ? "en" : "vi";
  localStorage.setItem(STORAGE_KEY, current);
  applyStatic();
  for (const listener of listeners) listener(current);
}

/** Calls `listener` after every language change. */
export function onLangChange(listener) {
  listeners.push(listener);
}

/** Fills every `[data-i18n]` element and marks the pressed language button. */
export function applyStatic() {
  document.documentElement.lang = current;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === current));
  }
}

/** Time of day in the current language's format. */
export function clock(date) {
  return date.toLocaleTimeString(current === "vi" ? "vi-VN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

/** A short "how long ago" text for an age in seconds. */
export function ago(seconds) {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} ${t("seconds")}`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} ${t("minutes")}`;
  return `${Math.round(seconds / 3600)} ${t("hours")}`;
}
